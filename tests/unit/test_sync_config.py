"""Cloud settings hold no secrets: a user name or password inside a URL is refused.

Settings are checked twice: when `config set` stores them, and when sync reads
them (a hand-edited settings file never went through `config set`).
"""

from __future__ import annotations

import pytest

from sync.config import cloud_config
from sync.errors import ConfigError
from tests.support.cli import run_cli

SECRET = "Pw-9xq"
BASE = {"cloud.url": "https://cloud.example.org/dicom-web", "cloud.user": "reader"}
OAUTH = {"cloud.auth": "oauth2-device", "cloud.client_id": "ws-1",
         "cloud.token_url": "https://id.example.org/token",
         "cloud.device_url": "https://id.example.org/device"}


@pytest.mark.parametrize(("key", "value"), [
    ("cloud.url", f"https://reader:{SECRET}@cloud.example.org/dicom-web"),
    ("cloud.url", "https://reader@cloud.example.org/dicom-web"),
    ("cloud.token_url", f"https://ws-1:{SECRET}@id.example.org/token"),
    ("cloud.device_url", f"https://ws-1:{SECRET}@id.example.org/device"),
    ("cloud.proxy", f"http://it:{SECRET}@proxy.example.org:3128"),
])
def test_a_hand_edited_url_with_credentials_is_refused_in_one_line(key, value):
    settings = {**BASE, **OAUTH, key: value}
    with pytest.raises(ConfigError) as err:
        cloud_config(settings)
    message = str(err.value)
    assert message.startswith(key) and "must not carry a user name or password" in message
    assert "\n" not in message and SECRET not in message and "reader@" not in message


def test_the_same_urls_without_credentials_are_accepted():
    cfg = cloud_config({**BASE, **OAUTH, "cloud.proxy": "http://proxy.example.org:3128"})
    assert cfg.token_url == OAUTH["cloud.token_url"]
    assert cfg.device_url == OAUTH["cloud.device_url"]


@pytest.mark.parametrize(("key", "value"), [
    ("cloud.url", f"https://u:{SECRET}@host/"),
    ("cloud.proxy", f"http://u:{SECRET}@proxy:3128"),
])
def test_config_set_refuses_credentials_and_writes_nothing(tmp_path, key, value):
    home = tmp_path / "home"
    done = run_cli("config", "set", key, value, home=home)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "must not carry a user name or password" in lines[0]
    assert SECRET not in done.stderr + done.stdout
    assert list(home.rglob("settings.json")) == []  # nothing written
    assert not any(SECRET in p.read_text(errors="replace") for p in home.rglob("*")
                   if p.is_file())  # not in a log either


def test_the_bandwidth_cap_is_in_kib_per_second_and_an_old_setting_is_kept(tmp_path):
    import json

    from engine.errors import MammoDeskError
    from engine.settings import Settings

    settings = Settings(tmp_path)
    settings.path.write_text(json.dumps({"sync.bandwidth_kbps": "400"}))
    assert settings.get("sync.bandwidth_kib_s") == "400"  # a file from an older version
    with pytest.raises(MammoDeskError, match=r"now called sync\.bandwidth_kib_s"):
        settings.update({"sync.bandwidth_kbps": "100"})


def test_set_time_and_connect_time_agree_on_loopback(tmp_path):
    from engine.settings import Settings
    from engine.urls import url_problem

    # 127.0.0.2 is loopback for both checks (it was refused when saved before).
    Settings(tmp_path).update({"cloud.url": "http://127.0.0.2:8042/dicom-web"})
    assert url_problem("http://127.0.0.2:8042/dicom-web", "cloud.url", True) is None
    assert url_problem("http://10.0.0.1/dicom-web", "cloud.url", True) is not None
