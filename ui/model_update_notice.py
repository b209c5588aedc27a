"""What the models folder holds, as the window shows it: the status bar's
note of a model update waiting for a decision ("Model update waiting: demo
1.2.0 (accepted)") and the Models dialog's live model, versions and history.

Everything here reads files (packages are verified in full each time they
are read), so it runs on the operations pool; the decisions themselves are
engine.ai.activation's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtWidgets import QLabel

from engine.errors import MammoDeskError
from engine.settings import Settings
from ui.cli.output import NOT_CLINICAL
from ui.context import AppContext

ACCEPTED = "accepted"
REFUSED = "refused by acceptance"
NOT_CHECKED = "not checked yet"
OTHER_CONTENTS = "acceptance report is for other contents"
CANDIDATE, INSTALLED, BUILTIN, DAMAGED = "candidate", "installed", "built-in", "damaged"
KIND_TEXT = {CANDIDATE: "update (not live)", INSTALLED: "installed", BUILTIN: "built-in",
             DAMAGED: "damaged"}


def verdict(report: dict[str, Any] | None, digest: str) -> str:
    """What acceptance said of a package whose manifest has SHA-256 ``digest``."""
    if report is None:
        return NOT_CHECKED
    if (report.get("candidate") or {}).get("manifest_sha256") != digest:
        return OTHER_CONTENTS
    return ACCEPTED if report.get("accepted") is True else REFUSED


def shown_time(at: str) -> str:
    """An ISO time of the log or a report as local time to the second."""
    try:
        when = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return at
    return when.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def shown_url(url: str) -> str:
    """The repository URL without user name, password, query or fragment."""
    from sync.model_updates.client import public_url

    try:
        return public_url(url)
    except ValueError:
        return "(not a valid URL)"


def one_line(value: object) -> str:
    return " ".join(str(value or "").split())


@dataclass(frozen=True)
class Version:
    """One model version in the models folder: a candidate, installed, or built in."""

    name: str
    version: str
    kind: str
    live: bool = False
    report: dict[str, Any] | None = None
    verdict: str = NOT_CHECKED
    problem: str = ""  # why a damaged package does not verify

    def can_activate(self) -> bool:
        return not self.live and (self.kind == INSTALLED or (
            self.kind == CANDIDATE and self.verdict == ACCEPTED))

    def kind_text(self) -> str:
        return KIND_TEXT[self.kind]

    def state_text(self, pin: dict[str, str] | None) -> str:
        if self.live:
            held = pin is not None and (pin["name"], pin["version"]) == (self.name, self.version)
            return "live, pinned" if held else "live"
        if self.kind == DAMAGED:
            return one_line(self.problem)
        return self.verdict if self.kind == CANDIDATE else ""

    def report_text(self) -> str:
        """The acceptance report's verdict and reason, in a line or two."""
        if self.kind == DAMAGED:
            return f"{self.name} does not verify: {one_line(self.problem)}"
        if self.report is None:
            tail = "; Check now runs it" if self.kind == CANDIDATE else ""
            return f"No acceptance report for {self.name} {self.version}{tail}."
        r = self.report
        head = "Accepted" if r.get("accepted") is True else "Refused"
        reason = one_line(r.get("reason")).removeprefix("accepted: ").removeprefix("refused: ")
        text = f"{head} by acceptance: {reason or 'no reason recorded'}"
        seconds = r.get("seconds")
        took = f", {seconds:.0f} s" if isinstance(seconds, int | float) else ""
        made = shown_time(str(r.get("made", "")))
        text += f" (checked {made}{took}). {one_line(r.get('notice'))}"
        if self.verdict == OTHER_CONTENTS:
            text = "This report is for other package contents; check again. " + text
        return text.strip()


@dataclass(frozen=True)
class ModelsState:
    live: Version | None
    builtin: Path | None  # the shipped model package, when it is there
    pin: dict[str, str] | None
    channel: str
    url: str
    versions: list[Version] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    history_problem: str = ""

    def live_text(self) -> str:
        if self.live is None:
            return "Live model: none (no installed or built-in model verifies)"
        where = "built-in" if self.live.kind == BUILTIN else "installed"
        held = (f"pinned to {self.pin['name']} {self.pin['version']}" if self.pin
                else "not pinned")
        return (f"Live model: {self.live.name} {self.live.version} ({where}, {held}) — "
                f"{NOT_CLINICAL}")

    def source_text(self) -> str:
        repo = shown_url(self.url) if self.url else "none configured (set models.url)"
        return f"Updates: channel {self.channel or 'stable'}, repository {repo}"


def _package_version(models_root: Path, pkg: Any, kind: str, live_root: Path | None
                     ) -> Version:
    from engine.ai.activation import manifest_digest, read_report

    report = read_report(models_root, pkg.name, pkg.version)
    return Version(pkg.name, pkg.version, kind,
                   live=live_root is not None and pkg.root.resolve() == live_root,
                   report=report, verdict=verdict(report, manifest_digest(pkg)))


def _version(models_root: Path, found: Any, kind: str, live_root: Path | None
             ) -> Version | None:
    """A listed package, or a damaged one; None for a folder that is no package at all
    (the acceptance reports)."""
    from engine.ai.package import ModelPackage
    from engine.ai.package_manifest import MANIFEST

    if isinstance(found, ModelPackage):
        return _package_version(models_root, found, kind, live_root)
    folder, why = found
    return Version(folder.name, "", DAMAGED, problem=why) if (folder / MANIFEST).exists() \
        else None


def load_state(models_root: Path, settings: Settings) -> ModelsState:
    """Everything the Models dialog shows (reads and verifies; not on the GUI thread)."""
    from engine.ai import activation
    from engine.ai.package import (
        ModelPackageError,
        active_package,
        list_packages,
        parse_version,
        read_package,
    )
    from engine.resources import builtin_model_dir

    try:
        values = settings.all()
    except MammoDeskError:
        values = {}
    shipped = builtin_model_dir()
    builtin = shipped if shipped.is_dir() else None
    live_pkg = active_package(models_root, builtin)
    live_root = live_pkg.root.resolve() if live_pkg is not None else None
    versions: list[Version] = []
    for kind, found in ((CANDIDATE, activation.candidates(models_root)),
                        (INSTALLED, list_packages(models_root))):
        made = [v for f in found if (v := _version(models_root, f, kind, live_root))]
        versions += sorted(made, key=lambda v: parse_version(v.version) if v.version
                           else (-1, 0, 0), reverse=True)
    if builtin is not None:
        try:
            versions.append(_package_version(models_root, read_package(builtin), BUILTIN,
                                             live_root))
        except ModelPackageError as exc:
            versions.append(Version(builtin.name, "", DAMAGED, problem=str(exc)))
    try:
        history, problem = activation.history(models_root), ""
    except MammoDeskError as exc:
        history, problem = [], f"the history cannot be read: {exc}"
    return ModelsState(
        live=next((v for v in versions if v.live), None), builtin=builtin,
        pin=activation.pinned(models_root), channel=values.get("models.channel", ""),
        url=values.get("models.url", ""), versions=versions, history=history,
        history_problem=problem)


def notice_text(models_root: Path) -> str:
    """One line for the status bar ("" when no candidate waits); reads files."""
    from engine.ai.activation import candidates, manifest_digest, read_report
    from engine.ai.package import ModelPackage, parse_version

    waiting = [p for p in candidates(models_root) if isinstance(p, ModelPackage)]
    if not waiting:
        return ""
    newest = max(waiting, key=lambda p: parse_version(p.version))
    said = verdict(read_report(models_root, newest.name, newest.version),
                   manifest_digest(newest))
    more = f"; {len(waiting) - 1} more waiting" if len(waiting) > 1 else ""
    return f"Model update waiting: {newest.describe()} ({said}){more}"


def refresh_notice(ctx: AppContext, label: QLabel, note: str = "") -> None:
    """Fill ``label`` from the models folder, off the GUI thread, with ``note``
    (the last check's failure, "Model check: offline") after it; hidden when empty."""
    root = ctx.paths.models

    def show(text: str) -> None:
        if shiboken6.isValid(label):
            text = "; ".join(t for t in (text, note) if t)
            label.setText(text)
            label.setVisible(bool(text))

    ctx.ops.run(lambda: notice_text(root), show, lambda _m: show(""),
                channel="model-update-notice")
