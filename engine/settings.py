"""User settings: one JSON file in the config folder, read and written
through this module only.  Secrets never come here (they go to the system
keyring); values are checked before they are stored."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from engine.errors import MammoDeskError

FILE_NAME = "settings.json"
KEYS: dict[str, str] = {
    "reader.name": "the name that signs reads",
    "library.path": "where the case library lives (takes effect at the next start)",
    "cloud.url": "the DICOMweb root of the cloud service (https://...)",
    "cloud.user": "the cloud account name (its password lives in the system keyring)",
    "cloud.ca_bundle": "an extra CA certificate file for a hospital proxy",
    "deid.profile": "de-identification profile for sync and anonymize: sync (default) or basic",
    "deid.options": "comma-separated de-identification options replacing the profile's own",
    "deid.safe_private": "allowlist file of private elements kept by retain-safe-private",
}


def _check(key: str, value: str) -> str:
    value = value.strip()
    if key not in KEYS:
        raise MammoDeskError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
    if key == "cloud.url" and value:
        url = urlparse(value)
        if url.scheme != "https" or not url.netloc:
            raise MammoDeskError("the cloud URL must start with https:// and name a host")
    if key == "cloud.ca_bundle" and value and not Path(value).is_file():
        raise MammoDeskError(f"no CA bundle file at {value}")
    if key == "deid.safe_private" and value and not Path(value).is_file():
        raise MammoDeskError(f"no safe private list file at {value}")
    if "\n" in value:
        raise MammoDeskError("a setting is one line")
    return value


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
        return {k: str(v) for k, v in data.items() if k in KEYS} if isinstance(data, dict) else {}

    def get(self, key: str, default: str = "") -> str:
        if key not in KEYS:
            raise MammoDeskError(f"unknown setting {key!r}; known: {', '.join(KEYS)}")
        return self.all().get(key, default)

    def update(self, values: dict[str, str]) -> None:
        """Check every value, then write them all at once (atomically)."""
        checked = {k: _check(k, v) for k, v in values.items()}
        data = self.all() | checked
        data = {k: v for k, v in data.items() if v}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise MammoDeskError(f"cannot save settings: {exc.strerror or exc}") from exc
