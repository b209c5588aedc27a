"""The domain check: does a study look like what the model was trained on?

The shipped model learnt from synthetic phantoms only; on anything else its
output is confident and meaningless.  A package may carry
``domain_check.json`` (named by ``manifest.entry.domain_check``, hashed like
every other file): per view position, the mean and shrunk-covariance
precision of the model's pooled backbone features on in-distribution
validation views, a feature-distance threshold, and ranges for simple
acquisition statistics of the prepared input.

API for the analysis code::

    from engine.ai.domain import DomainCheck, study_flagged

    check = DomainCheck.from_package(runtime.package)   # None: package has none
    out = runtime.predict(cc, mlo)                       # (breasts, H, W, 1) each
    # out["features_cc"], out["features_mlo"]: (breasts, C); absent for
    # packages whose model has no feature outputs -> skip the check.
    verdict = check.view_verdict(prepared_cc, out["features_cc"][j], "CC")
    verdict.flagged      # bool: outside the training
    verdict.distance     # feature (Mahalanobis) distance
    verdict.threshold    # its limit
    verdict.reasons      # human-readable lines, empty when not flagged
    study_flagged([v1, v2, ...])   # a study is flagged when any analysed view is

``prepared`` is the engine.ai.preprocess.Prepared the model read.  The
check costs a few milliseconds per view (a 128x128 product and a few image
statistics).  ``check.validation`` holds how it was fitted and the flag
rates measured (see the model card, section "Outside its training").

Modules: acquisition (image statistics), check (the file and verdicts),
fit (fitting and thresholds, numpy only), inputs and cohort (rendering
studies and inputs outside the training, running them through the model),
report (table and model card section), validate (the measuring script).
"""

from engine.ai.domain.check import DomainCheck, DomainVerdict, study_flagged

__all__ = ["DomainCheck", "DomainVerdict", "study_flagged"]
