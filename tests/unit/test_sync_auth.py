"""Signing in to the cloud: Basic with the keyring's password, OAuth2 tokens, device sign-in.

A fake identity provider and DICOMweb endpoint run on one loopback HTTPS
server (throwaway CA); the keyring is a file in the test's own folder.
"""

from __future__ import annotations

import base64
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import keyring
import keyring.backends.fail
import keyring.core
import pytest

from engine.settings import Settings
from sync import credentials
from sync.auth import device_sign_in, login_basic, login_client_secret, make_auth
from sync.config import CloudConfig
from sync.errors import AuthError, TlsError, TransientError
from sync.http import make_session
from sync.transport import send
from tests.support.https_servers import Pki, Reply, Seen, Servers, json_reply, make_pki

USER, PASSWORD = "reader7", "Cor3ct-h0rse-17"
CLIENT, SECRET = "ws-0042", "cl13nt-s3cr3t-Xq"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def servers(pki: Pki, monkeypatch) -> Iterator[Servers]:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    running = Servers(pki)
    yield running
    running.close()


@pytest.fixture
def keyfile(tmp_path: Path, plaintext_keyring: Path) -> Path:
    """The file behind this test's own keyring."""
    path = Path(keyring.get_keyring().file_path)
    assert path.is_relative_to(tmp_path)
    return path


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Cloud:
    """A fake OAuth2 provider (/token, /device) and DICOMweb root (/dicom-web)."""

    def __init__(self) -> None:
        self.expires_in = 3600
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.refresh_tokens = {"rt-1"}
        self.rotate = True
        self.device_script: list[str] = []
        self.token_status: Reply | None = None
        self.refuse = False  # the resource server refuses every token
        self.device_expires_in = 600
        self.basic = f"Basic {_b64(f'{USER}:{PASSWORD}')}"

    def _issue(self, refresh: str | None = None) -> Reply:
        token = f"tok-{len(self.issued) + 1}"
        self.issued.append(token)
        self.valid.add(token)
        doc = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
        if refresh:
            doc["refresh_token"] = refresh
        return json_reply(200, doc, {"Cache-Control": "no-store"})

    def _token(self, seen: Seen) -> Reply:
        if self.token_status:
            return self.token_status
        form = dict(parse_qsl(seen.body.decode()))
        grant = form.get("grant_type")
        if grant == "client_credentials":
            if seen.headers.get("Authorization") != f"Basic {_b64(f'{CLIENT}:{SECRET}')}":
                return json_reply(401, {"error": "invalid_client"})
            return self._issue()
        if grant == "urn:ietf:params:oauth:grant-type:device_code":
            step = self.device_script.pop(0) if self.device_script else "pending"
            if step == "ok":
                return self._issue(refresh="rt-1")
            if step == "no-refresh":
                return self._issue()
            code = {"pending": "authorization_pending", "slow_down": "slow_down",
                    "expired": "expired_token", "denied": "access_denied"}[step]
            return json_reply(400, {"error": code})
        if grant == "refresh_token":
            old = form.get("refresh_token", "")
            if old not in self.refresh_tokens or form.get("client_id") != CLIENT:
                return json_reply(400, {"error": "invalid_grant"})
            if not self.rotate:
                return self._issue()
            self.refresh_tokens.discard(old)
            new = f"rt-{int(old.split('-')[1]) + 1}"
            self.refresh_tokens.add(new)
            return self._issue(refresh=new)
        return json_reply(400, {"error": "unsupported_grant_type"})

    def __call__(self, seen: Seen) -> Reply:
        if seen.path == "/token":
            return self._token(seen)
        if seen.path == "/device":
            return json_reply(200, {"device_code": "dc-77", "user_code": "WDJB-MJHT",
                                    "verification_uri": "https://id.example.org/device",
                                    "verification_uri_complete":
                                        "https://id.example.org/device?user_code=WDJB-MJHT",
                                    "expires_in": self.device_expires_in, "interval": 5})
        if seen.path.startswith("/dicom-web/studies"):
            auth = seen.headers.get("Authorization", "")
            ok = auth == self.basic or auth.removeprefix("Bearer ") in self.valid
            ok = ok and not self.refuse
            return json_reply(200, []) if ok else json_reply(401, {})
        return json_reply(404, {})

    def resource_auths(self, srv) -> list[str]:
        return [s.headers.get("Authorization", "") for s in srv.seen
                if s.path.startswith("/dicom-web")]

    def grants(self, srv) -> list[dict[str, str]]:
        return [dict(parse_qsl(s.body.decode())) for s in srv.seen if s.path == "/token"]


@pytest.fixture
def cloud(servers: Servers) -> tuple[Cloud, object]:
    fake = Cloud()
    return fake, servers.https(fake)


def _cfg(srv, pki: Pki, auth: str = "basic", **kw) -> CloudConfig:
    return CloudConfig(url=f"{srv.url}/dicom-web", user=USER, auth=auth, ca_bundle=str(pki.ca),
                       token_url=f"{srv.url}/token", device_url=f"{srv.url}/device",
                       client_id=CLIENT, scope="dicom", connect_timeout=3, read_timeout=5, **kw)


def _get(session, cfg, auth):
    return send(session, "GET", f"{cfg.url}/studies", auth=auth, timeout=(3, 5))


# -- basic -------------------------------------------------------------------------------


def test_basic_auth_sends_the_keyring_password(cloud, pki, keyfile):
    fake, srv = cloud
    cfg = _cfg(srv, pki)
    credentials.store_password(USER, PASSWORD)
    session = make_session(cfg)
    auth = make_auth(cfg, session)
    assert _get(session, cfg, auth).status_code == 200
    assert fake.resource_auths(srv) == [fake.basic]
    assert PASSWORD not in repr(auth)


def test_no_stored_password_says_how_to_sign_in(cloud, pki, keyfile):
    _, srv = cloud
    cfg = _cfg(srv, pki)
    with pytest.raises(AuthError) as err:
        make_auth(cfg, make_session(cfg))
    assert str(err.value) == (f"no cloud password is stored for {USER}: run "
                              f"`python main.py login --user {USER} --password-stdin`")


def test_login_with_a_wrong_password_stores_nothing(cloud, pki, keyfile):
    _, srv = cloud
    cfg = _cfg(srv, pki)
    with pytest.raises(AuthError, match="refused the user name or password") as err:
        login_basic(cfg, make_session(cfg), USER, "wrong-Pw-55")
    assert "wrong-Pw-55" not in str(err.value)
    assert credentials.get_password(USER) is None
    assert not keyfile.exists() or _b64("wrong-Pw-55") not in keyfile.read_text()


def test_login_with_the_right_password_keeps_it_in_the_keyring_only(cloud, pki, keyfile,
                                                                    tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    fake, srv = cloud
    settings = Settings(tmp_path / "config")
    settings.update({"cloud.url": f"{srv.url}/dicom-web", "cloud.user": USER,
                     "cloud.ca_bundle": str(pki.ca)})
    cfg = _cfg(srv, pki)
    session = make_session(cfg)
    message = login_basic(cfg, session, USER, PASSWORD)
    assert message == f"signed in as {USER}; the password is in the system keyring"
    assert fake.resource_auths(srv) == [fake.basic]
    assert [s.path for s in srv.seen] == ["/dicom-web/studies?limit=1"]
    assert credentials.get_password(USER) == PASSWORD
    assert _b64(PASSWORD) in keyfile.read_text()  # the file backend keeps it base64-encoded
    assert _get(session, cfg, make_auth(cfg, session)).status_code == 200
    assert PASSWORD not in settings.path.read_text()
    assert _b64(PASSWORD) not in settings.path.read_text()
    assert caplog.records  # urllib3 did log the requests
    for record in caplog.records:
        text = record.getMessage()
        assert PASSWORD not in text and _b64(PASSWORD) not in text


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_login_while_offline_stores_and_says_it_was_not_checked(pki, keyfile):
    port = _closed_port()
    cfg = CloudConfig(url=f"https://localhost:{port}/dicom-web", user=USER,
                      ca_bundle=str(pki.ca), connect_timeout=3, read_timeout=5)
    message = login_basic(cfg, make_session(cfg), USER, PASSWORD)
    assert "could not be checked now" in message
    assert PASSWORD not in message
    assert credentials.get_password(USER) == PASSWORD


def test_login_to_an_untrusted_server_stores_nothing(servers, pki, keyfile):
    srv = servers.https(Cloud(), cert="rogue")
    cfg = _cfg(srv, pki)
    with pytest.raises(TlsError):
        login_basic(cfg, make_session(cfg), USER, PASSWORD)
    assert credentials.get_password(USER) is None


def test_no_usable_keyring_names_the_missing_backend_and_the_readme(cloud, pki, monkeypatch):
    before = keyring.core._keyring_backend
    keyring.core.set_keyring(keyring.backends.fail.Keyring())
    try:
        _, srv = cloud
        cfg = _cfg(srv, pki)
        with pytest.raises(AuthError) as err:
            login_basic(cfg, make_session(cfg), USER, PASSWORD)
    finally:
        keyring.core._keyring_backend = before
    message = str(err.value)
    assert "Secret Service" in message and "keyring.backends.fail.Keyring" in message
    assert 'README section "Keyring on a headless Linux"' in message
    assert "\n" not in message and PASSWORD not in message


# -- OAuth2 client credentials -----------------------------------------------------------


def test_client_credentials_token_is_sent_as_bearer_and_reused(cloud, pki, keyfile):
    fake, srv = cloud
    cfg = _cfg(srv, pki, auth="oauth2-client")
    credentials.store_client_secret(CLIENT, SECRET)
    session = make_session(cfg)
    auth = make_auth(cfg, session, now=Clock())
    assert _get(session, cfg, auth).status_code == 200
    assert _get(session, cfg, auth).status_code == 200
    assert fake.grants(srv) == [{"grant_type": "client_credentials", "scope": "dicom"}]
    token_call = next(s for s in srv.seen if s.path == "/token")
    assert token_call.headers["Authorization"] == f"Basic {_b64(f'{CLIENT}:{SECRET}')}"
    assert fake.resource_auths(srv) == ["Bearer tok-1", "Bearer tok-1"]
    assert "tok-1" not in repr(auth) and SECRET not in repr(auth)


@pytest.mark.parametrize(("lifetime", "still_fresh", "renewed"), [
    (3600, 3000, 3545),  # renewed with less than 60 s left
    (30, 26, 27.5),  # short-lived token: renewed with less than a tenth (3 s) left
])
def test_token_is_renewed_before_it_expires_and_not_long_before(cloud, pki, keyfile, lifetime,
                                                                still_fresh, renewed):
    fake, srv = cloud
    fake.expires_in = lifetime
    cfg = _cfg(srv, pki, auth="oauth2-client")
    credentials.store_client_secret(CLIENT, SECRET)
    clock = Clock()
    start = clock.t
    session = make_session(cfg)
    auth = make_auth(cfg, session, now=clock)
    _get(session, cfg, auth)
    clock.t = start + still_fresh
    _get(session, cfg, auth)
    assert len(fake.grants(srv)) == 1
    clock.t = start + renewed
    assert _get(session, cfg, auth).status_code == 200
    assert len(fake.grants(srv)) == 2
    assert fake.resource_auths(srv) == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


def test_a_rejected_token_is_replaced_once_and_the_request_sent_again(cloud, pki, keyfile):
    fake, srv = cloud
    cfg = _cfg(srv, pki, auth="oauth2-client")
    credentials.store_client_secret(CLIENT, SECRET)
    session = make_session(cfg)
    auth = make_auth(cfg, session, now=Clock())
    _get(session, cfg, auth)
    fake.valid.clear()  # the server revoked tok-1 early
    resp = send(session, "POST", f"{cfg.url}/studies", data=b"payload", auth=auth,
                timeout=(3, 5))
    assert resp.status_code == 200
    posts = [s for s in srv.seen if s.method == "POST" and s.path.startswith("/dicom-web")]
    assert [(p.headers["Authorization"], p.body) for p in posts] == [
        ("Bearer tok-1", b"payload"), ("Bearer tok-2", b"payload")]


def test_a_server_that_keeps_refusing_gets_one_retry_only(cloud, pki, keyfile):
    fake, srv = cloud
    fake.refuse = True
    cfg = _cfg(srv, pki, auth="oauth2-client")
    credentials.store_client_secret(CLIENT, SECRET)
    session = make_session(cfg)
    resp = _get(session, cfg, make_auth(cfg, session, now=Clock()))
    assert resp.status_code == 401  # the caller decides (the sync loop reports an auth problem)
    assert fake.resource_auths(srv) == ["Bearer tok-1", "Bearer tok-2"]
    assert len(fake.grants(srv)) == 2


def test_a_rejected_token_during_a_streamed_upload_is_left_to_the_caller(cloud, pki, keyfile):
    fake, srv = cloud
    cfg = _cfg(srv, pki, auth="oauth2-client")
    credentials.store_client_secret(CLIENT, SECRET)
    session = make_session(cfg)
    auth = make_auth(cfg, session, now=Clock())
    _get(session, cfg, auth)
    fake.valid.clear()
    with pytest.raises(TransientError, match="sent again with a fresh token"):
        send(session, "POST", f"{cfg.url}/studies", data=iter([b"part1", b"part2"]), auth=auth,
             timeout=(3, 5))
    assert len(fake.grants(srv)) == 1  # no retry with a consumed stream
    assert _get(session, cfg, auth).status_code == 200  # the next request gets a fresh token
    assert fake.resource_auths(srv)[-1] == "Bearer tok-2"


def test_invalid_client_is_an_auth_error_without_the_secret(cloud, pki, keyfile):
    _, srv = cloud
    cfg = _cfg(srv, pki, auth="oauth2-client")
    credentials.store_client_secret(CLIENT, "not-the-S3cret")
    session = make_session(cfg)
    auth = make_auth(cfg, session, now=Clock())
    with pytest.raises(AuthError, match="invalid_client") as err:
        _get(session, cfg, auth)
    assert "not-the-S3cret" not in str(err.value)
    assert "cloud.client_id" in str(err.value)


def test_token_endpoint_outage_is_transient(cloud, pki, keyfile):
    fake, srv = cloud
    fake.token_status = json_reply(503, {}, {"Retry-After": "30"})
    cfg = _cfg(srv, pki, auth="oauth2-client")
    credentials.store_client_secret(CLIENT, SECRET)
    session = make_session(cfg)
    with pytest.raises(TransientError) as err:
        _get(session, cfg, make_auth(cfg, session, now=Clock()))
    assert err.value.retry_after == 30
    assert fake.resource_auths(srv) == []  # nothing went out without a token


def test_login_client_secret_keeps_only_a_secret_that_works(cloud, pki, keyfile):
    _, srv = cloud
    cfg = _cfg(srv, pki, auth="oauth2-client")
    session = make_session(cfg)
    with pytest.raises(AuthError, match="invalid_client"):
        login_client_secret(cfg, session, "not-the-S3cret")
    assert credentials.get_client_secret(CLIENT) is None
    message = login_client_secret(cfg, session, SECRET)
    assert CLIENT in message and SECRET not in message
    assert credentials.get_client_secret(CLIENT) == SECRET


# -- OAuth2 device sign-in ---------------------------------------------------------------


class Sleeper:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.sleeps: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.clock.t += seconds


def test_device_sign_in_polls_slows_down_and_keeps_the_refresh_token(cloud, pki, keyfile,
                                                                     caplog):
    caplog.set_level(logging.DEBUG)
    fake, srv = cloud
    fake.device_script = ["pending", "slow_down", "pending", "ok"]
    cfg = _cfg(srv, pki, auth="oauth2-device")
    clock = Clock()
    sleep = Sleeper(clock)
    shown: list[tuple[str, str]] = []
    session = make_session(cfg)
    device_sign_in(cfg, session, lambda uri, code: shown.append((uri, code)), sleep=sleep,
                   now=clock)
    assert shown == [("https://id.example.org/device?user_code=WDJB-MJHT", "WDJB-MJHT")]
    assert sleep.sleeps == [5, 5, 10, 10]
    device = next(s for s in srv.seen if s.path == "/device")
    assert dict(parse_qsl(device.body.decode())) == {"client_id": CLIENT, "scope": "dicom"}
    assert fake.grants(srv) == [{"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                                 "device_code": "dc-77", "client_id": CLIENT}] * 4
    assert credentials.get_refresh_token(CLIENT) == "rt-1"

    # Later (another run): the stored refresh token buys access tokens and is rotated.
    auth = make_auth(cfg, session, now=clock)
    assert _get(session, cfg, auth).status_code == 200
    assert fake.grants(srv)[-1] == {"grant_type": "refresh_token", "refresh_token": "rt-1",
                                    "client_id": CLIENT}
    assert credentials.get_refresh_token(CLIENT) == "rt-2"
    clock.t += 3590  # close to expiry: renewed with the rotated refresh token
    assert _get(session, cfg, auth).status_code == 200
    assert fake.grants(srv)[-1]["refresh_token"] == "rt-2"
    assert credentials.get_refresh_token(CLIENT) == "rt-3"
    assert fake.resource_auths(srv) == ["Bearer tok-2", "Bearer tok-3"]
    for record in caplog.records:
        assert "rt-" not in record.getMessage() and "tok-" not in record.getMessage()


def test_expired_device_code_is_an_auth_error_and_stores_nothing(cloud, pki, keyfile):
    fake, srv = cloud
    fake.device_script = ["pending", "expired"]
    cfg = _cfg(srv, pki, auth="oauth2-device")
    clock = Clock()
    with pytest.raises(AuthError, match="expired before it was used"):
        device_sign_in(cfg, make_session(cfg), lambda *_: None, sleep=Sleeper(clock), now=clock)
    assert credentials.get_refresh_token(CLIENT) is None


def test_device_sign_in_gives_up_at_expires_in(cloud, pki, keyfile):
    fake, srv = cloud
    fake.device_script = []  # pending for ever
    fake.device_expires_in = 60
    cfg = _cfg(srv, pki, auth="oauth2-device")
    clock = Clock()
    sleep = Sleeper(clock)
    with pytest.raises(AuthError, match="login` again"):
        device_sign_in(cfg, make_session(cfg), lambda *_: None, sleep=sleep, now=clock)
    assert sum(sleep.sleeps) == 60
    assert len(fake.grants(srv)) == 11  # every 5 s until the 60 s ran out, then no more
    assert credentials.get_refresh_token(CLIENT) is None


def test_device_sign_in_without_a_refresh_token_is_an_error(cloud, pki, keyfile):
    fake, srv = cloud
    fake.device_script = ["no-refresh"]
    cfg = _cfg(srv, pki, auth="oauth2-device")
    clock = Clock()
    with pytest.raises(AuthError, match="no refresh token"):
        device_sign_in(cfg, make_session(cfg), lambda *_: None, sleep=Sleeper(clock), now=clock)
    assert credentials.get_refresh_token(CLIENT) is None


def test_a_refused_refresh_token_asks_to_sign_in_again(cloud, pki, keyfile):
    _, srv = cloud
    credentials.store_refresh_token(CLIENT, "rt-revoked")
    cfg = _cfg(srv, pki, auth="oauth2-device")
    session = make_session(cfg)
    with pytest.raises(AuthError) as err:
        _get(session, cfg, make_auth(cfg, session, now=Clock()))
    assert str(err.value) == "the cloud sign-in has expired: run `python main.py login` again"


def test_device_mode_without_a_stored_sign_in(cloud, pki, keyfile):
    _, srv = cloud
    cfg = _cfg(srv, pki, auth="oauth2-device")
    with pytest.raises(AuthError, match=r"not signed in to the cloud: run `python main\.py login`"):
        make_auth(cfg, make_session(cfg))


def test_forgetting_the_sign_in_keeps_the_client_secret(keyfile):
    credentials.store_client_secret(CLIENT, SECRET)
    credentials.store_refresh_token(CLIENT, "rt-9")
    text = keyfile.read_text()
    assert _b64(SECRET) in text and _b64("rt-9") in text
    credentials.forget_refresh_token(CLIENT)
    credentials.forget_refresh_token(CLIENT)  # twice: nothing to forget is fine
    assert credentials.get_refresh_token(CLIENT) is None
    assert credentials.get_client_secret(CLIENT) == SECRET
    assert _b64("rt-9") not in keyfile.read_text()
