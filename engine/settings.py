"""User settings: one JSON file in the config folder, read and written
through this module only.  Secrets never come here (they go to the system
keyring); values are checked before they are stored.  A key that is not set
has its default (``defaults()``; empty where there is none)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from engine.atomic import write_atomically
from engine.dicom.nodes import NODE_PREFIX, check_ae_title, is_node_key, parse_node
from engine.errors import MammoDeskError
from engine.urls import url_problem

FILE_NAME = "settings.json"
KEYS: dict[str, str] = {
    "reader.name": "the name that signs reads",
    "hanging.steps": "the reading sequence as JSON (empty: the default; see README)",
    "reading.cad_second_look": "yes: the AI result stays hidden until the first look is done",
    "reading.double_reading": "yes: two readers read each study blind to each other; "
                              "a third settles a disagreement on recall",
    "display.image_screens": "the screens that show the images, e.g. DP-1,DP-2 (empty: the "
                             "main window; View > Images on another screen sets it)",
    "library.path": "where the case library lives (takes effect at the next start)",
    "cloud.url": "the DICOMweb root of the cloud service (https://...)",
    "cloud.user": "the cloud account name (its password lives in the system keyring)",
    "cloud.ca_bundle": "an extra CA certificate file for a hospital proxy",
    "cloud.auth": "how to sign in: basic (default), oauth2-client or oauth2-device",
    "cloud.token_url": "OAuth2 token endpoint (https://...)",
    "cloud.device_url": "OAuth2 device authorization endpoint (https://...)",
    "cloud.client_id": "OAuth2 client ID (its secret, if any, lives in the system keyring)",
    "cloud.scope": "OAuth2 scope to ask for (optional)",
    "cloud.proxy": "HTTP(S) proxy for the cloud, e.g. http://proxy.hospital:3128",
    "cloud.dev_plain_http": "yes: allow plain http to a loopback address (development only)",
    "sync.auto_enqueue": "yes: queue every study for sync, not only signed reads",
    "sync.paused": "yes: sync waits until resumed",
    "sync.bandwidth_kib_s": "upload cap in KiB per second, 1 KiB = 1024 bytes (empty: no cap)",
    "sync.batch_mb": "largest STOW-RS request in MB (default 64)",
    "deid.profile": "de-identification profile for sync and anonymize: sync (default) or basic",
    "deid.options": "comma-separated de-identification options replacing the profile's own",
    "deid.safe_private": "allowlist file of private elements kept by retain-safe-private",
    "models.url": "the model repository root holding metadata/ and targets/ (https://...)",
    "models.root": "the model repository's trusted root.json file, installed by IT",
    "models.channel": "which model channel to follow: stable (default) or pilot",
    "models.auto_check": "yes (default): check for a model update once a day while the "
                         "window is open, when models.url is set",
    "models.auto_activate": "yes: a candidate that passes acceptance goes live at once "
                            "(default no: someone activates it)",
    "models.bundle_grace_days": "days an update bundle's expired timestamp is still "
                                "accepted, always with a warning (default 0: none)",
    "dicom.ae_title": "this workstation's DICOM AE title (default MAMMODESK)",
    "limits.frame_megapixels": "largest image frame MammoDesk decodes, in megapixels",
    "limits.file_mb": "largest DICOM file or ZIP member MammoDesk reads whole, in MB",
    "limits.zip_ratio": "largest compression ratio of a ZIP member (bigger is refused)",
}
# What an unset key means.  Keys missing here have no fixed default (empty:
# none); library.path and reader.name depend on the machine, and the command
# line fills them in.
_FIXED_DEFAULTS: dict[str, str] = {
    "cloud.auth": "basic",
    "reading.cad_second_look": "yes",
    "reading.double_reading": "no",
    "cloud.dev_plain_http": "no",
    "sync.auto_enqueue": "no",
    "sync.paused": "no",
    "sync.batch_mb": "64",
    "deid.profile": "sync",
    "models.channel": "stable",
    "models.auto_check": "yes",
    "models.auto_activate": "no",
    "models.bundle_grace_days": "0",
    "dicom.ae_title": "MAMMODESK",
}


def defaults() -> dict[str, str]:
    """The value each key with a fixed default has while it is not set."""
    # Imported here: engine.dicom loads pydicom, which reading settings does not need.
    from engine.dicom.limits import Limits

    limits = Limits()
    return _FIXED_DEFAULTS | {
        "limits.frame_megapixels": f"{limits.frame_megapixels:g}",
        "limits.file_mb": f"{limits.file_mb:g}",
        "limits.zip_ratio": f"{limits.zip_ratio:g}",
    }


AUTH_MODES = ("basic", "oauth2-client", "oauth2-device")
# Keys renamed since they were introduced: old name -> new name (same value).
RENAMED = {"sync.bandwidth_kbps": "sync.bandwidth_kib_s"}
_URL_KEYS = ("cloud.url", "cloud.token_url", "cloud.device_url", "models.url")
MODEL_CHANNELS = ("stable", "pilot")
_YES_NO = ("cloud.dev_plain_http", "sync.auto_enqueue", "sync.paused", "reading.cad_second_look",
           "reading.double_reading", "models.auto_check", "models.auto_activate")
_POSITIVE = ("sync.bandwidth_kib_s", "sync.batch_mb", "limits.frame_megapixels",
             "limits.file_mb", "limits.zip_ratio")


@dataclass(frozen=True)
class Setting:
    """One known key: its value in effect, and whether that is the default."""

    key: str
    value: str
    is_default: bool
    description: str

    def as_dict(self) -> dict[str, object]:
        return {"key": self.key, "value": self.value, "default": self.is_default,
                "description": self.description}


def check_value(key: str, value: str) -> str:
    """The value as it would be stored; MammoDeskError when it is refused."""
    value = value.strip()
    if key in RENAMED:
        raise MammoDeskError(f"{key} is now called {RENAMED[key]}")
    if is_node_key(key):
        if value:
            parse_node(key[len(NODE_PREFIX):], value)
        return value
    _known(key)
    if key == "dicom.ae_title" and value:
        value = check_ae_title(value, "dicom.ae_title")
    if key == "cloud.proxy" and value and "@" in urlparse(value).netloc:
        # A settings file is no place for a password: it goes to the keyring (login).
        raise MammoDeskError(f"{key} must not carry a user name or password; "
                             "use cloud.user and login")
    if key in _URL_KEYS and value:
        problem = url_problem(value, key, dev_plain_http=True)
        if problem:
            raise MammoDeskError(problem)
    if key == "cloud.proxy" and value:
        url = urlparse(value)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise MammoDeskError("the proxy must be http://HOST:PORT or https://HOST:PORT")
    if key == "cloud.auth" and value and value not in AUTH_MODES:
        raise MammoDeskError(f"cloud.auth must be one of {', '.join(AUTH_MODES)}")
    if key in _YES_NO and value and value not in ("yes", "no"):
        raise MammoDeskError(f"{key} must be yes or no")
    if key in _POSITIVE and value:
        try:
            ok = float(value) > 0
        except ValueError:
            ok = False
        if not ok:
            raise MammoDeskError(f"{key} must be a positive number")
    if key == "cloud.ca_bundle" and value and not Path(value).is_file():
        raise MammoDeskError(f"no CA bundle file at {value}")
    if key == "models.root" and value and not Path(value).is_file():
        raise MammoDeskError(f"no trusted root file at {value}")
    if key == "models.channel" and value and value not in MODEL_CHANNELS:
        raise MammoDeskError(f"models.channel must be one of {', '.join(MODEL_CHANNELS)}")
    if key == "models.bundle_grace_days" and value and not (
            value.isascii() and value.isdigit() and int(value) <= 365):
        raise MammoDeskError("models.bundle_grace_days must be a whole number of days, 0 to 365")
    if key == "deid.safe_private" and value and not Path(value).is_file():
        raise MammoDeskError(f"no safe private list file at {value}")
    if "\n" in value:
        raise MammoDeskError("a setting is one line")
    if key == "display.image_screens" and value:
        from engine.display.screens import parse_names, stored

        value = stored(parse_names(value))
    if key == "hanging.steps" and value:
        from engine.display.protocol import parse_steps

        parse_steps(value)  # refused with the step and the reason
    return value


NODE_TEXT = "a DICOM node (PACS, modality): AET@host:port"


def _known(key: str) -> None:
    if key not in KEYS and not is_node_key(key):
        raise MammoDeskError(f"unknown setting {key!r}; known: {', '.join(KEYS)}, "
                             f"and {NODE_PREFIX}NAME for DICOM nodes")


class Settings:
    def __init__(self, config_dir: Path) -> None:
        self.path = Path(config_dir) / FILE_NAME

    def all(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise MammoDeskError(f"the settings file {self.path} is unreadable: {exc}") from exc
        if not isinstance(data, dict):
            return {}
        for old_key, new_key in RENAMED.items():  # a file written by an older MammoDesk
            if old_key in data and new_key not in data:
                data[new_key] = data[old_key]
        return {k: str(v) for k, v in data.items() if k in KEYS or is_node_key(k)}

    def get(self, key: str, default: str = "") -> str:
        _known(key)
        return self.all().get(key, default)

    def effective(self, key: str, extra: dict[str, str] | None = None) -> Setting:
        """The key's stored value, else its default (``defaults()``, then ``extra``)."""
        _known(key)
        return next(s for s in [*self.listing(extra), Setting(key, "", True, NODE_TEXT)]
                    if s.key == key)

    def listing(self, extra: dict[str, str] | None = None) -> list[Setting]:
        """Every known key, in the order of KEYS, then the DICOM nodes defined, with
        the value in effect; ``extra`` gives defaults that depend on the machine
        (library.path, reader.name)."""
        stored = self.all()
        fallback = defaults() | (extra or {})
        return [Setting(key, stored[key] if key in stored else fallback.get(key, ""),
                        key not in stored, description)
                for key, description in KEYS.items()] + [
            Setting(key, value, False, NODE_TEXT)
            for key, value in sorted(stored.items()) if is_node_key(key)]

    def update(self, values: dict[str, str]) -> None:
        """Check every value, then write them all at once (atomically)."""
        checked = {k: check_value(k, v) for k, v in values.items()}
        data = self.all() | checked
        data = {k: v for k, v in data.items() if v}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(data, indent=1, sort_keys=True))
        except OSError as exc:
            raise MammoDeskError(f"cannot save settings: {exc.strerror or exc}") from exc
