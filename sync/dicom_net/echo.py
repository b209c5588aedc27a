"""C-ECHO: is a configured DICOM node there, and does it accept us?

pynetdicom's AE opens one association (the Verification SOP class) from our
AE title (dicom.ae_title) to the node's, sends C-ECHO and releases.  Every
failure is one line: the node cannot be reached (no connection, timed out),
it rejected the association (often: our AE title is not configured there),
or it answered C-ECHO with a failure status.
"""

from __future__ import annotations

import logging
import time

from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from engine.dicom.nodes import Node
from engine.errors import MammoDeskError

log = logging.getLogger(__name__)
TIMEOUT_S = 10.0


class DicomNetError(MammoDeskError):
    """A DICOM exchange with a node failed."""


class NodeUnreachable(DicomNetError):
    """No association: the node cannot be reached or did not answer in time."""


class AssociationRejected(DicomNetError):
    """The node rejected or aborted the association."""


def echo(node: Node, calling_ae: str, timeout_s: float = TIMEOUT_S) -> float:
    """Seconds the C-ECHO round trip took; DicomNetError subclasses on failure."""
    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(Verification)
    for attr in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, attr, timeout_s)
    why: list[str] = []
    opened: list[bool] = []

    def rejected(event: evt.Event) -> None:
        primitive = event.assoc.acceptor.primitive
        why.append(f"result {getattr(primitive, 'result_str', '?')}, "
                   f"reason {getattr(primitive, 'reason_str', '?')}")

    t0 = time.perf_counter()
    assoc = ae.associate(node.host, node.port, ae_title=node.ae_title,
                         evt_handlers=[(evt.EVT_REJECTED, rejected),
                                       (evt.EVT_CONN_OPEN, lambda _e: opened.append(True))])
    try:
        if assoc.is_rejected:
            raise AssociationRejected(
                f"{node.describe()} rejected the association from {calling_ae} "
                f"({why[0] if why else 'no reason given'}); is {calling_ae} configured there?")
        if not opened:
            raise NodeUnreachable(f"{node.describe()} cannot be reached (no connection)")
        if assoc.is_aborted:
            raise AssociationRejected(f"{node.describe()} aborted the association")
        if not assoc.is_established:
            raise NodeUnreachable(f"{node.describe()} cannot be reached (no association "
                                  f"within {timeout_s:g} s)")
        status = assoc.send_c_echo()
        if not status or "Status" not in status:
            raise NodeUnreachable(f"{node.describe()} did not answer the C-ECHO")
        code = int(status.Status)
        if code != 0x0000:
            raise DicomNetError(f"{node.describe()} answered C-ECHO with status 0x{code:04X}")
        return time.perf_counter() - t0
    finally:
        if assoc.is_established:
            assoc.release()
