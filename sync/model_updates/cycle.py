"""One model update cycle: check the repository, run acceptance, activate when allowed.

``check_and_accept`` is what ``main.py models check`` and the window's
"Check now" (and its daily check) call.  After the TUF check (client.check)
the newest candidate without a report for its exact manifest runs in shadow
(engine.ai.acceptance) against the live model, on the shipped acceptance set
and the site's own labelled breasts; the report is kept
(engine.ai.activation) and ``accepted`` or ``refused`` goes into the update
log.  With ``models.auto_activate`` set to yes and no pin, an accepted
candidate then goes live.  A refused candidate stays where it is, with its
report, so the same package is not fetched again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from engine.ai import activation, update_log
from engine.ai.package import ModelPackage, active_package, login_name, parse_version
from engine.errors import MammoDeskError
from engine.paths import AppPaths
from engine.resources import builtin_model_dir
from sync.model_updates.client import check

log = logging.getLogger(__name__)
LAST_CHECK = "last-check.json"
CHECK_EVERY = timedelta(days=1)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class CheckOutcome:
    active: str | None  # the live version after the cycle
    candidate: str | None  # the newest candidate still waiting (None once activated)
    accepted: bool | None  # its acceptance verdict; None when there is no candidate
    reason: str  # one line
    report: dict[str, Any] | None  # the candidate's acceptance report
    activated: bool = False  # whether this cycle made it live


def newest_candidate(models_root: Path, name: str | None) -> ModelPackage | None:
    found = [p for p in activation.candidates(models_root)
             if isinstance(p, ModelPackage) and (name is None or p.name == name)]
    return max(found, key=lambda p: parse_version(p.version), default=None)


def current_report(models_root: Path, pkg: ModelPackage) -> dict[str, Any] | None:
    """The candidate's stored report when it is for exactly this package."""
    report = activation.read_report(models_root, pkg.name, pkg.version)
    if report and report.get("candidate", {}).get("manifest_sha256") == \
            activation.manifest_digest(pkg):
        return report
    return None


def accept(paths: AppPaths, candidate: ModelPackage, live: ModelPackage,
           progress: Progress | None = None) -> dict[str, Any]:
    """Run acceptance on a candidate, keep the report, log the verdict."""
    from engine.ai.acceptance.run import run_acceptance
    from engine.library.store import Library

    try:
        if paths.library.is_dir():
            with Library(paths.library) as library:
                report = run_acceptance(candidate, live, library=library, progress=progress)
        else:
            report = run_acceptance(candidate, live, progress=progress)
    except MammoDeskError as exc:
        report = _could_not_run(candidate, live, str(exc))
    activation.store_report(paths.models, report)
    update_log.append(update_log.log_path(paths.models),
                      "accepted" if report["accepted"] else "refused",
                      {"name": candidate.name, "version": candidate.version,
                       "against": live.version, "reason": report["reason"],
                       "failed": [c["name"] for c in report["checks"]
                                  if c["passed"] is False]},
                      actor=login_name())
    return report


def _could_not_run(candidate: ModelPackage, live: ModelPackage, why: str) -> dict[str, Any]:
    from engine.ai.acceptance.run import REPORT_FORMAT
    from engine.ai.results import NOT_FOR_CLINICAL_USE

    return {"format": REPORT_FORMAT, "made": datetime.now(UTC).isoformat(timespec="seconds"),
            "candidate": {"name": candidate.name, "version": candidate.version,
                          "manifest_sha256": activation.manifest_digest(candidate)},
            "active": {"name": live.name, "version": live.version},
            "accepted": False, "reason": f"refused: acceptance could not run: {why}",
            "checks": [{"name": "runs", "set": "package", "passed": False, "detail": why}],
            "sets": {}, "seconds": 0.0, "notice": NOT_FOR_CLINICAL_USE}


def check_and_accept(paths: AppPaths, settings: dict[str, str],
                     progress: Progress | None = None) -> CheckOutcome:
    """Check, accept, maybe activate; ModelUpdateError (one line) when the check fails."""
    result = check(paths, settings)
    _note_checked(paths)
    return accept_newest(paths, settings, result.name, result.reason, progress)


def import_and_accept(paths: AppPaths, settings: dict[str, str], bundle: Path,
                      progress: Progress | None = None) -> tuple[CheckOutcome, list[str]]:
    """``check_and_accept`` from a USB bundle (sync.model_updates.bundle) instead
    of the network; also returns the bundle's warnings (an expiry in grace)."""
    from sync.model_updates.bundle import grace_days
    from sync.model_updates.bundle_import import import_bundle

    result = import_bundle(paths, settings, bundle, grace_days(settings))
    outcome = accept_newest(paths, settings, result.name, result.reason, progress)
    return outcome, list(result.warnings)


def accept_newest(paths: AppPaths, settings: dict[str, str], name: str | None,
                  reason: str, progress: Progress | None = None) -> CheckOutcome:
    """Acceptance for the newest candidate still without a verdict, then
    activation when models.auto_activate allows it."""
    live = active_package(paths.models, builtin_model_dir())
    cand = newest_candidate(paths.models, live.name if live else name)
    if cand is None or live is None:
        return CheckOutcome(live.version if live else None, None, None, reason, None)
    report = current_report(paths.models, cand) or accept(paths, cand, live, progress)
    reason = f"{cand.describe()}: {report['reason']}"
    auto = (settings.get("models.auto_activate") or "no").lower() == "yes"
    if report["accepted"] and auto and activation.pinned(paths.models) is None:
        try:
            now = activation.activate_version(paths.models, cand.version,
                                              actor="automatic (models.auto_activate)")
        except MammoDeskError as exc:
            reason += f"; not activated: {exc}"
        else:
            return CheckOutcome(now.version, None, True, f"{reason}; now live", report, True)
    elif report["accepted"]:
        reason += "; waiting for activation" + (
            " (the model is pinned)" if activation.pinned(paths.models) else "")
    return CheckOutcome(live.version, cand.version, report["accepted"], reason, report)


def _state(paths: AppPaths) -> Path:
    return paths.cache / "model-updates" / LAST_CHECK


def _note_checked(paths: AppPaths) -> None:
    try:
        path = _state(paths)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"at": datetime.now(UTC).isoformat()}), encoding="utf-8")
    except OSError as exc:
        log.warning("the time of the last model check could not be kept (%s)", exc.strerror)


def check_due(paths: AppPaths, settings: dict[str, str], now: datetime | None = None) -> bool:
    """Whether the daily automatic check should run now (models.url set, auto_check on)."""
    if not (settings.get("models.url") or "").strip():
        return False
    if (settings.get("models.auto_check") or "yes").lower() != "yes":
        return False
    now = now or datetime.now(UTC)
    try:
        last = datetime.fromisoformat(json.loads(_state(paths).read_text("utf-8"))["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return True
    return now - last >= CHECK_EVERY or last > now
