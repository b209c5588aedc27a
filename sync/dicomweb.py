"""DICOMweb client: STOW-RS upload, QIDO-RS confirmation, a reachability check.

``stow`` posts one batch of files of one study and sorts every instance it
sent into stored / failed (for good) / retry / unknown from the Store
Instances Response (PS3.18 section 10.5.3 and Annex I).  ``qido_instances``
lists what the cloud holds for a study, to confirm the "unknown" ones (and
everything else, before an outbox entry is closed).

Failure Reason (0008,1197) values, PS3.18 Table I.2-2: A7xx out of resources,
A9xx data set does not match SOP class, Cxxx cannot understand, C122 transfer
syntax not supported, 0110 processing failure, 0122 SOP class not supported;
"additional codes may be used".  Servers answer a duplicate in different ways:

* Orthanc (DICOMweb plugin 1.7, measured against Debian's Orthanc 1.10.1):
  re-posting stored instances answers 200 and lists them again in
  ReferencedSOPSequence (0008,1199) with an empty FailedSOPSequence; nothing
  is stored twice.  A part that is not DICOM at all makes it answer 400
  without naming that part (the readable parts are stored and listed); a part
  of another study than the URL's answers 409 with Failure Reason 0x0110 (so
  0x0110 under 409 is not worth retrying); a full disk is 0xA700.  Its 400 and
  409 answers carry no Content-Type, so bodies are recognised by content.
* Failure Reason 0x0111 "Duplicate SOP Instance" (PS3.7 C.5.9) is the
  additional code some servers use for an instance they already hold.
* Azure's DICOM service answers 409 with Failure Reason 45070 (0xB00E,
  "instance already exists") and 45071 (0xB00F) while the same instance is
  still being created.
* dcm4chee-arc uses 0xA770-0xA77F for refusals of its own (rejected objects,
  conflicting patient data): permanent, although inside A7xx.

Because the pseudonymised UIDs of a study are stable, an instance the cloud
already holds is ours: at-least-once delivery with an idempotent server.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

from sync.bounded import (
    MIN_UPLOAD_RATE,
    QIDO_PAGE_MAX,
    SMALL_ANSWER_MAX,
    SMALL_DEADLINE_S,
    STOW_ANSWER_MAX,
    upload_deadline,
)
from sync.errors import AuthError, ConfigError, RejectedError, TransientError
from sync.multipart import MultipartBody
from sync.retry import parse_retry_after
from sync.stow_response import StowOutcome, first, outcome, parse_dataset
from sync.transport import send

__all__ = ["BatchTooLargeError", "StowOutcome", "check_status", "ping", "qido_instances",
           "stow"]

DICOM_JSON = "application/dicom+json"

SOP_INSTANCE_UID = "00080018"
REFERENCED_SOP_INSTANCE_UID = "00081155"
WARNING_REASON = "00081196"
FAILURE_REASON = "00081197"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"


class BatchTooLargeError(RejectedError):
    """HTTP 413: the server refused the request as too large; send smaller batches."""


def _url(base_url: str, *parts: str) -> str:
    return base_url.rstrip("/") + "".join("/" + quote(p, safe="") for p in parts)


def _phrase(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase.lower()}"
    except ValueError:
        return f"HTTP {status}"


def check_status(resp: requests.Response) -> None:
    """Return for a 2xx answer; otherwise raise the sync error its status means."""
    status = resp.status_code
    if 200 <= status < 300:
        return
    what = _phrase(status)
    if status in (401, 403):
        raise AuthError(f"the cloud refused the credentials ({what}); check cloud.user "
                        "and sign in again")
    if status == 413:
        raise BatchTooLargeError(f"the cloud refused the upload as too large ({what}); "
                                 "send fewer or smaller files at a time")
    if status == 415:
        raise RejectedError(f"the cloud does not accept this kind of upload ({what})")
    if status in (408, 429) or status >= 500:
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        busy = "is busy" if status in (429, 503) else "had a problem"
        raise TransientError(f"the cloud {busy} ({what}); trying again later",
                             retry_after=retry_after)
    if status in (404, 405, 410) or 300 <= status < 400:
        raise ConfigError(f"there is no DICOMweb service at the configured address ({what}); "
                          "check cloud.url")
    raise RejectedError(f"the cloud refused the request ({what})")


def stow(session: requests.Session, base_url: str, study_uid: str,
         files: Sequence[tuple[Path, str]], *, auth: Any = None,
         timeout: float | tuple[float, float] = (10, 300), rate_limit: float | None = None,
         on_progress: Callable[[int], None] | None = None,
         deadline: float = SMALL_DEADLINE_S, min_rate: float = MIN_UPLOAD_RATE) -> StowOutcome:
    """POST ``files`` (path, SOP Instance UID) to ``{base_url}/studies/{study_uid}``.

    Returns what the server says of each instance.  Raises AuthError (401/403),
    BatchTooLargeError (413: split the batch), RejectedError (415 and other
    refusals of the whole request), TransientError (429, 5xx, a dropped
    connection; ``retry_after`` from the server), OfflineError, TlsError,
    ConfigError (no DICOMweb service at that address), and SourceChangedError
    (a file changed while it was being sent).  ``on_progress`` gets the bytes
    sent so far; ``rate_limit`` caps the upload in bytes per second.  The whole
    request must be over within ``deadline`` seconds plus the body's size at
    ``min_rate`` bytes per second (TransientError when not), and the answer is
    read up to a few MB (bigger is a TransientError).
    """
    if not files:
        raise ValueError("stow needs at least one file")
    sent = [sop for _, sop in files]
    body = MultipartBody([path for path, _ in files], rate_limit=rate_limit,
                         on_progress=on_progress)
    try:
        resp = send(session, "POST", _url(base_url, "studies", study_uid), data=body,
                    headers={"Content-Type": body.content_type, "Accept": DICOM_JSON},
                    auth=auth, timeout=timeout, max_bytes=STOW_ANSWER_MAX,
                    deadline=upload_deadline(deadline, len(body), rate_limit=rate_limit,
                                             min_rate=min_rate),
                    # A redirected POST would come back as a GET without the body.
                    allow_redirects=False)
    finally:
        body.close()
    status = resp.status_code
    if status in (200, 202):
        return outcome(status, sent, parse_dataset(resp.content), unlisted=None)
    if status in (400, 409):
        dataset = parse_dataset(resp.content)
        if dataset is not None and (FAILED_SOP_SEQUENCE in dataset
                                    or REFERENCED_SOP_SEQUENCE in dataset):
            return outcome(status, sent, dataset,
                            unlisted=f"not stored ({_phrase(status)}, instance not named)")
    check_status(resp)
    return outcome(status, sent, None, unlisted=None)


def _json_rows(resp: requests.Response) -> list[dict[str, Any]]:
    if not resp.content.strip():
        return []
    try:
        data = resp.json()
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, list):
        raise TransientError("the cloud's answer to a query could not be read")
    return [{str(k).upper(): v for k, v in row.items()} for row in data
            if isinstance(row, dict)]


def qido_instances(session: requests.Session, base_url: str, study_uid: str, *,
                   expected: Collection[str], auth: Any = None,
                   timeout: float | tuple[float, float] = (10, 60), page: int = 1000,
                   deadline: float = SMALL_DEADLINE_S) -> set[str]:
    """Which of ``expected`` (SOP Instance UIDs) the cloud holds for ``study_uid``.

    QIDO-RS, paged, and bounded by what is being confirmed: it stops as soon as
    every expected instance is listed, and reads at most ceil(expected / page) + 1
    pages (the one extra page for objects of the study sent before); a server
    that keeps sending full pages past that is a TransientError, and so is a
    page over the size cap or past the deadline.  Each page is a request to the
    configured origin only (the session follows no redirect).
    """
    if page < 1:
        raise ValueError("page must be at least 1")
    wanted = set(expected)
    url = _url(base_url, "studies", study_uid, "instances")
    found: set[str] = set()
    seen: set[str] = set()
    offset = 0
    for _ in range(math.ceil(len(wanted) / page) + 1):
        resp = send(session, "GET", url,
                    params={"includefield": SOP_INSTANCE_UID, "limit": page, "offset": offset},
                    headers={"Accept": DICOM_JSON}, auth=auth, timeout=timeout,
                    max_bytes=QIDO_PAGE_MAX, deadline=deadline, allow_redirects=False)
        if resp.status_code in (204, 404):
            return found
        check_status(resp)
        rows = _json_rows(resp)
        before = len(seen)
        seen.update(uid.strip().rstrip("\0") for row in rows
                    if isinstance(uid := first(row, SOP_INSTANCE_UID), str) and uid.strip())
        found = wanted & seen
        # Everything confirmed; or a short page, the last; or a server that ignores
        # offset (nothing new) or limit (a long page): it has sent all it will.
        if found == wanted or len(rows) != page or len(seen) == before:
            return found
        offset += len(rows)
    raise TransientError("the cloud listed more instances than the study can hold while "
                         "confirming an upload; trying again later")


def ping(session: requests.Session, base_url: str, *, auth: Any = None,
         timeout: float | tuple[float, float] = (5, 15),
         deadline: float = SMALL_DEADLINE_S) -> None:
    """Check that ``base_url`` is a DICOMweb service that accepts our credentials."""
    resp = send(session, "GET", _url(base_url, "studies"), params={"limit": 1},
                headers={"Accept": DICOM_JSON}, auth=auth, timeout=timeout,
                max_bytes=SMALL_ANSWER_MAX, deadline=deadline, allow_redirects=False)
    try:
        check_status(resp)
    except RejectedError:
        # A plain search refused (Orthanc's own REST API answers 400 here): not QIDO-RS.
        raise ConfigError(f"the configured address does not answer like a DICOMweb service "
                          f"({_phrase(resp.status_code)}); check cloud.url") from None
    if resp.status_code == 204 or not resp.content.strip():
        return
    try:
        data = resp.json()
    except (ValueError, RecursionError):
        data = None
    # QIDO-RS answers a list of DICOM JSON datasets; Orthanc's own REST API, one
    # level up, answers a list of identifiers to the same path.
    if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
        raise ConfigError("the configured address does not answer like a DICOMweb service; "
                          "check cloud.url")
