"""The cloud session: verified TLS (system store + hospital CA), explicit proxy, no plain http.

Real loopback servers with a throwaway CA: what IT would see when the CA file
is wrong, the host name does not match, or the environment tries to change
the trust store or the proxy behind the application's back.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator

import pytest
import requests
import urllib3.util.connection

from sync.config import CloudConfig, cloud_config
from sync.errors import ConfigError, TlsError
from sync.http import (
    USER_AGENT,
    check_url,
    make_session,
    ssl_context,
    system_ca_locations,
    timeout,
)
from sync.transport import send
from tests.support.cli import ROOT
from tests.support.https_servers import Pki, Servers, make_pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def servers(pki: Pki) -> Iterator[Servers]:
    running = Servers(pki)
    yield running
    running.close()


@pytest.fixture
def no_env_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def cfg_for(url: str, **kw: object) -> CloudConfig:
    return CloudConfig(url=url, user="reader", connect_timeout=3, read_timeout=5, **kw)  # type: ignore[arg-type]


# -- TLS ---------------------------------------------------------------------------------


def test_hospital_ca_bundle_makes_the_server_trusted(servers, pki, no_env_proxy):
    srv = servers.https()
    session = make_session(cfg_for(srv.url, ca_bundle=str(pki.ca)))
    resp = send(session, "GET", f"{srv.url}/dicom-web/studies")
    assert resp.status_code == 200
    assert srv.seen[0].headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("MammoDesk/") and len(USER_AGENT) > len("MammoDesk/")


def test_without_the_bundle_the_system_store_alone_does_not_trust_a_private_ca(servers, pki,
                                                                                no_env_proxy):
    srv = servers.https()
    with pytest.raises(TlsError, match="not trusted"):
        send(make_session(cfg_for(srv.url)), "GET", f"{srv.url}/studies")
    assert srv.seen == []


def test_server_signed_by_another_ca_is_not_trusted(servers, pki, no_env_proxy):
    srv = servers.https(cert="rogue")
    session = make_session(cfg_for(srv.url, ca_bundle=str(pki.ca)))
    with pytest.raises(TlsError) as err:
        send(session, "GET", f"{srv.url}/studies")
    message = str(err.value)
    assert "not trusted" in message and "cloud.ca_bundle" in message
    assert "\n" not in message
    assert srv.seen == []  # nothing was sent to the impostor


def test_ip_address_with_a_localhost_only_certificate_fails_the_host_name_check(servers, pki,
                                                                                 no_env_proxy):
    srv = servers.https()
    url = f"https://127.0.0.1:{srv.port}"
    with pytest.raises(TlsError) as err:
        send(make_session(cfg_for(url, ca_bundle=str(pki.ca))), "GET", f"{url}/studies")
    assert "not issued for that host name" in str(err.value)
    assert "mismatch" in str(err.value)
    assert srv.seen == []


def test_ssl_context_requires_certificates_host_names_and_tls12(pki):
    ctx = ssl_context(cfg_for("https://localhost", ca_bundle=str(pki.ca)))
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.check_hostname is True
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_2


def test_a_ca_bundle_that_is_not_pem_is_a_config_error(tmp_path):
    bad = tmp_path / "proxy-ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="not a PEM certificate"):
        make_session(cfg_for("https://localhost", ca_bundle=str(bad)))


@pytest.mark.parametrize("cert", ["good", "rogue"])
def test_environment_ca_variables_and_verify_arguments_change_nothing(servers, pki, cert,
                                                                      monkeypatch, no_env_proxy):
    srv = servers.https(cert=cert)
    # The environment (and a careless caller) name a CA that signed the rogue server only.
    env_ca = str(pki.other_ca)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", env_ca)
    monkeypatch.setenv("CURL_CA_BUNDLE", env_ca)
    url = f"{srv.url}/studies"
    if cert == "rogue":  # the trap is real: plain requests would now trust the rogue server
        assert requests.get(url, timeout=5).status_code == 200
    session = make_session(cfg_for(srv.url, ca_bundle=str(pki.ca)))
    for verify in (True, env_ca, False):
        if cert == "good":
            assert send(session, "GET", url, verify=verify).status_code == 200
        else:
            with pytest.raises(TlsError, match="not trusted"):
                send(session, "GET", url, verify=verify)
    expected = 3 if cert == "good" else 1  # the rogue server saw only the plain-requests call
    assert len(srv.seen) == expected


# -- the environment adds no trust: SSL_CERT_FILE, SSL_CERT_DIR (README: env vars change nothing)


def test_ssl_cert_file_in_the_environment_does_not_make_a_server_trusted(servers, pki,
                                                                         monkeypatch,
                                                                         no_env_proxy):
    srv = servers.https()
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    # The trap is real: OpenSSL's default verify paths now name the test CA.
    assert ssl.get_default_verify_paths().cafile == str(pki.ca)
    with pytest.raises(TlsError, match="not trusted"):
        send(make_session(cfg_for(srv.url)), "GET", f"{srv.url}/studies")
    assert srv.seen == []
    # cloud.ca_bundle is the one way to add a CA.
    session = make_session(cfg_for(srv.url, ca_bundle=str(pki.ca)))
    assert send(session, "GET", f"{srv.url}/studies").status_code == 200


def test_ssl_cert_dir_in_the_environment_does_not_make_a_server_trusted(servers, pki, tmp_path,
                                                                        monkeypatch,
                                                                        no_env_proxy):
    folder = tmp_path / "certs"
    folder.mkdir()
    subject_hash = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(pki.ca)],
                                  capture_output=True, text=True, check=True).stdout.strip()
    (folder / f"{subject_hash}.0").write_bytes(pki.ca.read_bytes())
    srv = servers.https()
    monkeypatch.setenv("SSL_CERT_DIR", str(folder))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    assert ssl.get_default_verify_paths().capath == str(folder)
    with pytest.raises(TlsError, match="not trusted"):
        send(make_session(cfg_for(srv.url)), "GET", f"{srv.url}/studies")
    assert srv.seen == []


def test_the_system_store_is_loaded_from_where_openssl_keeps_it(pki, tmp_path, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    cafile, capath = system_ca_locations()
    assert cafile != str(pki.ca) and capath != str(tmp_path)
    assert cafile or capath, "no system CA store found"
    ctx = ssl_context(cfg_for("https://localhost"))
    subjects = [dict(item[0] for item in ca["subject"]).get("commonName", "")
                for ca in ctx.get_ca_certs()]
    if cafile and sys.platform.startswith("linux"):  # a CA file is loaded at once (a
        assert len(subjects) > 10  # folder is read as certificates are looked up)
    assert not any(name.startswith("MammoDesk test") for name in subjects)


def _cli(env: dict[str, str], *args: str, stdin: str | None = None
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, str(ROOT / "main.py"), *args], cwd=ROOT, env=env,
                          input=stdin, capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.mark.slow  # four runs of main.py: about 8 s
def test_the_command_line_ignores_ssl_cert_file_too(servers, pki, tmp_path, no_env_proxy,
                                                    plaintext_keyring):
    srv = servers.https()
    env = {**os.environ, "MAMMODESK_HOME": str(tmp_path / "home"), "SSL_CERT_FILE": str(pki.ca)}
    assert _cli(env, "config", "set", "cloud.url", f"{srv.url}/dicom-web").returncode == 0
    refused = _cli(env, "login", "--user", "reader", "--password-stdin", stdin="Pw-9xq\n")
    assert refused.returncode != 0
    assert "not trusted" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert srv.seen == []
    assert _cli(env, "config", "set", "cloud.ca_bundle", str(pki.ca)).returncode == 0
    done = _cli(env, "login", "--user", "reader", "--password-stdin", stdin="Pw-9xq\n")
    assert done.returncode == 0, done.stderr
    assert len(srv.seen) == 1


# -- plain http --------------------------------------------------------------------------


def test_plain_http_to_loopback_needs_the_dev_flag(servers, no_env_proxy):
    srv = servers.http()
    settings = {"cloud.url": srv.url + "/dicom-web/", "cloud.user": "reader"}
    with pytest.raises(ConfigError, match=r"cloud\.dev_plain_http=yes"):
        cloud_config(settings)
    with pytest.raises(ConfigError, match="plain http"):
        make_session(cfg_for(srv.url))  # checked again when the session is made
    cfg = cloud_config({**settings, "cloud.dev_plain_http": "yes"})
    assert cfg.url == srv.url + "/dicom-web"
    resp = send(make_session(cfg), "GET", f"{cfg.url}/studies", timeout=timeout(cfg))
    assert resp.status_code == 200
    assert [s.path for s in srv.seen] == ["/dicom-web/studies"]


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every TCP connection urllib3 opens (host, port), still made for real."""
    made: list[tuple[str, int]] = []
    real = urllib3.util.connection.create_connection

    def spy(address, *args, **kwargs):
        made.append(address)
        return real(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", spy)
    return made


def test_plain_http_to_another_host_is_always_refused_before_connecting(connections,
                                                                        no_env_proxy):
    settings = {"cloud.url": "http://192.0.2.10/dicom-web", "cloud.user": "reader",
                "cloud.dev_plain_http": "yes"}
    with pytest.raises(ConfigError, match="only https"):
        cloud_config(settings)
    cfg = cfg_for("http://192.0.2.10/dicom-web", dev_plain_http=True)
    with pytest.raises(ConfigError, match="only https"):
        make_session(cfg)
    with pytest.raises(ConfigError, match="only https"):
        check_url("http://192.0.2.10/token", cfg)
    session = make_session(cfg_for("https://localhost:1", dev_plain_http=True))
    with pytest.raises(ConfigError, match="only https"):
        send(session, "GET", "http://192.0.2.10/dicom-web/studies")
    assert connections == []


def test_a_redirect_to_plain_http_is_not_followed(servers, pki, connections, no_env_proxy):
    srv = servers.https(lambda seen: (302, {"Location": "http://192.0.2.10/studies"}, b""))
    session = make_session(cfg_for(srv.url, ca_bundle=str(pki.ca)))
    with pytest.raises(ConfigError, match="redirects are not followed"):
        send(session, "GET", f"{srv.url}/studies", allow_redirects=True)
    assert [host for host, _ in connections] == ["localhost"]


@pytest.mark.parametrize(("settings", "fragment"), [
    ({}, "no cloud is configured: set cloud.url"),
    ({"cloud.url": "https://cloud.example.org"}, "set cloud.user"),
    ({"cloud.url": "https://reader:Pw-9xq@cloud.example.org", "cloud.user": "reader"},
     "must not carry a user name or password"),
    ({"cloud.url": "ftp://cloud.example.org", "cloud.user": "r"}, "must start with https://"),
    ({"cloud.url": "https://cloud.example.org", "cloud.auth": "oauth2-client",
      "cloud.client_id": "ws"}, "set cloud.token_url"),
    ({"cloud.url": "https://cloud.example.org", "cloud.auth": "oauth2-client",
      "cloud.token_url": "https://id.example.org/token"}, "set cloud.client_id"),
    ({"cloud.url": "https://cloud.example.org", "cloud.auth": "oauth2-device",
      "cloud.token_url": "https://id.example.org/token", "cloud.client_id": "ws"},
     "set cloud.device_url"),
    ({"cloud.url": "https://cloud.example.org", "cloud.auth": "oauth2-client",
      "cloud.token_url": "http://id.example.org/token", "cloud.client_id": "ws"},
     "cloud.token_url uses plain http"),
    ({"cloud.url": "https://cloud.example.org", "cloud.user": "r",
      "cloud.ca_bundle": "missing-ca.pem"}, "no CA bundle file at missing-ca.pem"),
    ({"cloud.url": "https://cloud.example.org", "cloud.user": "r",
      "cloud.proxy": "http://it:Pw-9xq@proxy.example.org:3128"}, "cloud.proxy must not carry"),
    ({"cloud.url": "https://cloud.example.org", "cloud.user": "r", "cloud.auth": "kerberos"},
     "cloud.auth must be one of"),
])
def test_incomplete_or_unsafe_settings_are_one_line_config_errors(settings, fragment):
    with pytest.raises(ConfigError) as err:
        cloud_config(settings)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)
    assert "Pw-9xq" not in str(err.value)


def test_complete_settings_become_a_config():
    cfg = cloud_config({"cloud.url": "https://cloud.example.org/dicom-web/",
                        "cloud.auth": "oauth2-device", "cloud.client_id": "ws-7",
                        "cloud.token_url": "https://id.example.org/token",
                        "cloud.device_url": "https://id.example.org/device",
                        "cloud.scope": "dicom", "cloud.proxy": "http://proxy.example.org:3128"})
    assert cfg.url == "https://cloud.example.org/dicom-web"
    assert (cfg.auth, cfg.client_id, cfg.scope) == ("oauth2-device", "ws-7", "dicom")
    assert cfg.dev_plain_http is False
    assert timeout(cfg) == (10.0, 120.0)


# -- proxies ---------------------------------------------------------------------------


def test_the_configured_proxy_carries_the_https_request(servers, pki, no_env_proxy):
    srv = servers.https()
    proxy = servers.proxy()
    session = make_session(cfg_for(srv.url, ca_bundle=str(pki.ca), proxy=proxy.url))
    assert send(session, "GET", f"{srv.url}/studies").status_code == 200
    assert proxy.seen == [("CONNECT", f"localhost:{srv.port}")]
    assert len(srv.seen) == 1


def test_a_rogue_server_behind_the_proxy_is_still_not_trusted(servers, pki, no_env_proxy):
    srv = servers.https(cert="rogue")
    proxy = servers.proxy()
    session = make_session(cfg_for(srv.url, ca_bundle=str(pki.ca), proxy=proxy.url))
    with pytest.raises(TlsError, match="not trusted"):
        send(session, "GET", f"{srv.url}/studies")
    assert proxy.seen == [("CONNECT", f"localhost:{srv.port}")]
    assert srv.seen == []


def test_environment_proxy_variables_are_ignored(servers, pki, monkeypatch, no_env_proxy):
    srv = servers.https()
    env_proxy = servers.proxy()
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, env_proxy.url)
    # The trap is real: plain requests goes through the environment's proxy.
    assert requests.get(f"{srv.url}/studies", verify=str(pki.ca), timeout=5).status_code == 200
    assert len(env_proxy.seen) == 1
    session = make_session(cfg_for(srv.url, ca_bundle=str(pki.ca)))
    assert send(session, "GET", f"{srv.url}/studies").status_code == 200
    assert len(env_proxy.seen) == 1  # not used by MammoDesk's session
    assert len(srv.seen) == 2
