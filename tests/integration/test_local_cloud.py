"""The reference cloud (packaging/cloud/local-cloud): nginx TLS + Orthanc DICOMweb.

What a client of the cloud relies on: the JSON it prints, STOW-RS and QIDO-RS
through nginx, idempotent re-posts, authentication, certificate checks, data
that survives a restart, and the TUF model repository served by the same
nginx, which a workstation's `models check` reads.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pydicom
import pytest
import requests

from tests.support.cli import run_cli
from tests.support.cloud import SCRIPT, SHIPPED_MODEL, LocalCloud, shipped_model_copy
from tests.support.faultproxy import Fault, FaultProxy

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

KEYS = {"url", "ca", "user", "password", "https_port", "orthanc_port", "orthanc_url",
        "models_url", "models_root", "models_repo"}


@pytest.fixture(scope="module")
def dicom_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One synthetic mammogram (the project's phantom generator, small size)."""
    from engine.phantom import generate_cohort

    out = tmp_path_factory.mktemp("phantom")
    cohort = generate_cohort(out, 1, seed=5, size="small")
    return next(f for f in cohort.files if f.name == "RCC.dcm")


def _sop_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def _study_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).StudyInstanceUID)


def _curl(*args: str) -> subprocess.CompletedProcess[str]:
    """curl with no user configuration, proxy or CA bundle from the environment."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
           and not k.lower().endswith("_proxy")}
    return subprocess.run(["curl", "-q", "-sS", "--noproxy", "*", "--max-time", "30", *args],
                          capture_output=True, text=True, env=env, timeout=60, check=False)


def _status(done: subprocess.CompletedProcess[str]) -> int:
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().rsplit("\n", 1)[-1])


def _stow_body(path: Path) -> tuple[Path, str]:
    boundary = uuid.uuid4().hex
    body = path.with_name(path.name + ".stow")
    body.write_bytes(b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n"
                     + path.read_bytes() + b"\r\n--" + boundary.encode() + b"--\r\n")
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def _curl_stow(cloud: LocalCloud, path: Path) -> int:
    body, content_type = _stow_body(path)
    done = _curl("--cacert", cloud.ca, "-u", f"{cloud.user}:{cloud.password}",
                 "-H", f"Content-Type: {content_type}", "-H", "Accept: application/dicom+json",
                 "--data-binary", f"@{body}", "-o", os.devnull, "-w", "%{http_code}",
                 f"{cloud.url}/studies")
    return _status(done)


def _qido_study_uids(cloud: LocalCloud) -> list[str]:
    answer = requests.get(f"{cloud.url}/studies", auth=cloud.auth, verify=cloud.ca,
                          headers={"Accept": "application/dicom+json"}, timeout=30)
    answer.raise_for_status()
    return [study["0020000D"]["Value"][0] for study in answer.json()]


def _processes_of(directory: Path) -> list[str]:
    """Live (not zombie) processes whose command line names the directory."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if f"{directory}/" in cmdline and state != "Z":
            found.append(f"{entry.name} {cmdline}")
    return found


def test_start_prints_one_json_document_and_is_idempotent(cloud: LocalCloud):
    # `start` on a running cloud answers the same document without restarting.
    done = subprocess.run([str(SCRIPT), "start", str(cloud.directory)], capture_output=True,
                          text=True, timeout=120, check=True)
    doc = json.loads(done.stdout)  # exactly one document, nothing else on stdout
    assert set(doc) == KEYS
    assert doc["url"] == f"https://localhost:{doc['https_port']}/dicom-web"
    assert doc["orthanc_url"] == f"http://127.0.0.1:{doc['orthanc_port']}"
    assert Path(doc["ca"]).is_absolute() and Path(doc["ca"]).is_file()
    assert doc["user"] == "mammodesk"
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", doc["password"])
    assert (doc["url"], doc["password"]) == (cloud.url, cloud.password)
    assert doc["models_url"] == f"https://localhost:{doc['https_port']}/models/"
    assert doc["models_repo"] == str(cloud.directory / "model-repo")
    assert doc["models_root"] == str(Path(doc["models_repo"]) / "root.json")
    assert json.loads(Path(doc["models_root"]).read_text())["signed"]["_type"] == "root"
    stored = cloud.directory / "cloud.json"
    assert json.loads(stored.read_text()) == doc
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600


def test_stow_then_qido_and_a_repost_stores_nothing_twice(cloud: LocalCloud, dicom_file: Path):
    assert _curl_stow(cloud, dicom_file) == 200
    assert _qido_study_uids(cloud) == [_study_uid(dicom_file)]
    # Orthanc 1.10.1 + DICOMweb plugin 1.7 answer 200 to a re-post of a stored
    # instance (listed as stored again, no FailedSOPSequence) and keep one copy.
    assert _curl_stow(cloud, dicom_file) == 200
    assert cloud.instance_uids() == [_sop_uid(dicom_file)]
    assert cloud.count() == 1
    assert list(cloud.instance_files()) == [dicom_file.read_bytes()]


def test_wrong_or_missing_password_is_401(cloud: LocalCloud):
    url = f"{cloud.url}/studies"
    wrong = _curl("--cacert", cloud.ca, "-u", f"{cloud.user}:not-the-password",
                  "-o", os.devnull, "-w", "%{http_code}", url)
    assert _status(wrong) == 401
    anonymous = _curl("--cacert", cloud.ca, "-o", os.devnull, "-w", "%{http_code}", url)
    assert _status(anonymous) == 401
    # The REST API behind nginx needs the same credentials.
    assert requests.get(cloud.url.replace("/dicom-web", "/statistics"), verify=cloud.ca,
                        timeout=30).status_code == 401
    assert requests.get(cloud.url.replace("/dicom-web", "/statistics"), verify=cloud.ca,
                        auth=cloud.auth, timeout=30).status_code == 200


def test_the_throwaway_ca_is_required(cloud: LocalCloud):
    done = _curl("-u", f"{cloud.user}:{cloud.password}", "-o", os.devnull,
                 f"{cloud.url}/studies")
    assert done.returncode == 60, done.stderr  # peer certificate cannot be verified


def test_an_ip_address_fails_host_name_verification(cloud: LocalCloud):
    done = _curl("--cacert", cloud.ca, "-u", f"{cloud.user}:{cloud.password}",
                 "-o", os.devnull, f"https://127.0.0.1:{cloud.https_port}/dicom-web/studies")
    assert done.returncode == 60, done.stderr
    assert "127.0.0.1" in done.stderr  # "no alternative certificate subject name matches"


def test_plain_http_on_the_https_port_gets_no_200(cloud: LocalCloud):
    done = _curl("-u", f"{cloud.user}:{cloud.password}", "-o", os.devnull,
                 "-w", "%{http_code}", f"http://localhost:{cloud.https_port}/dicom-web/studies")
    assert done.returncode != 0 or int(done.stdout or 0) != 200


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: a route lookup
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_orthanc_and_nginx_answer_loopback_only(cloud: LocalCloud):
    conf = json.loads((cloud.directory / "orthanc.json").read_text())
    assert conf["RemoteAccessAllowed"] is False
    assert conf["DicomServerEnabled"] is False
    address = _non_loopback_address()
    if address is None:
        return  # no other interface: nothing outside can reach the machine anyway
    # Orthanc 1.10 cannot bind one address; it refuses clients that are not local.
    try:
        answer = requests.get(f"http://{address}:{cloud.orthanc_port}/instances", timeout=10,
                              proxies={"http": "", "https": ""})
        assert answer.status_code in (401, 403), answer.status_code
    except requests.ConnectionError:
        pass  # not listening there at all: better still
    with pytest.raises(ConnectionRefusedError):  # nginx listens on 127.0.0.1 only
        socket.create_connection((address, cloud.https_port), timeout=5).close()


def test_tls_through_the_fault_proxy_and_a_retried_upload(cloud: LocalCloud,
                                                          dicom_file: Path):
    body, content_type = _stow_body(dicom_file)
    with FaultProxy("127.0.0.1", cloud.https_port) as proxy:
        url = f"https://localhost:{proxy.port}/dicom-web/studies"
        proxy.plan([Fault("reset", after_bytes=100_000)])
        headers = {"Content-Type": content_type, "Accept": "application/dicom+json"}
        with pytest.raises(requests.ConnectionError):
            requests.post(url, data=body.read_bytes(), headers=headers, auth=cloud.auth,
                          verify=cloud.ca, timeout=30)
        # At-least-once: the client sends again; the certificate still matches.
        for _ in range(2):
            answer = requests.post(url, data=body.read_bytes(), headers=headers,
                                   auth=cloud.auth, verify=cloud.ca, timeout=30)
            assert answer.status_code == 200
        assert proxy.faults_fired == 1
    assert cloud.instance_uids() == [_sop_uid(dicom_file)]


def test_orthanc_restarted_behind_nginx(cloud: LocalCloud):
    cloud.stop_orthanc()
    assert not cloud.orthanc_answers()
    down = requests.get(f"{cloud.url}/studies", auth=cloud.auth, verify=cloud.ca, timeout=30)
    assert down.status_code == 502
    cloud.start_orthanc()
    assert _qido_study_uids(cloud) == []


def _model_repo_state(cloud: LocalCloud) -> tuple[bytes, list[str], list[str]]:
    repo = Path(cloud.models_repo)
    return (Path(cloud.models_root).read_bytes(), sorted(p.name for p in (repo / "keys").iterdir()),
            sorted(p.name for p in (repo / "targets").rglob("*.tar")))


def test_stop_leaves_nothing_running_and_start_keeps_the_data(cloud: LocalCloud,
                                                              dicom_file: Path):
    assert _curl_stow(cloud, dicom_file) == 200
    password, ca = cloud.password, Path(cloud.ca).read_bytes()
    models = _model_repo_state(cloud)
    cloud.stop()
    assert _processes_of(cloud.directory) == []
    subprocess.run([str(SCRIPT), "stop", str(cloud.directory)], check=True, timeout=60)
    cloud.ensure_running()
    assert (cloud.password, Path(cloud.ca).read_bytes()) == (password, ca)
    assert cloud.instance_uids() == [_sop_uid(dicom_file)]
    assert _qido_study_uids(cloud) == [_study_uid(dicom_file)]
    # The same model repository: new root keys would make workstations refuse it.
    assert _model_repo_state(cloud) == models
    answer = requests.get(cloud.models_url + "metadata/timestamp.json", verify=cloud.ca,
                          timeout=30)
    assert answer.status_code == 200


def test_errors_are_one_line(tmp_path: Path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    for args in (["start", str(not_a_dir / "cloud")], ["start-orthanc", str(tmp_path / "x")],
                 ["frobnicate", str(tmp_path)]):
        done = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode != 0
        assert done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    done = subprocess.run([str(SCRIPT), "stop", str(tmp_path / "never-started")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, "")


# -- the model repository ---------------------------------------------------------

def _shipped_version() -> str:
    return str(json.loads((SHIPPED_MODEL / "manifest.json").read_text())["version"])


def test_the_model_repository_is_served_without_its_keys_or_a_password(cloud: LocalCloud):
    repo = Path(cloud.models_repo)
    target = next((repo / "targets" / "stable").glob(f"*.mammodesk-phantom-"
                                                     f"{_shipped_version()}.tar"))
    answer = requests.get(f"{cloud.models_url}targets/stable/{target.name}", verify=cloud.ca,
                          timeout=60)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/x-tar"
    assert answer.content == target.read_bytes()
    meta = requests.get(cloud.models_url + "metadata/1.root.json", verify=cloud.ca, timeout=30)
    assert (meta.status_code, meta.headers["Content-Type"]) == (200, "application/json")
    assert meta.content == (repo / "metadata" / "1.root.json").read_bytes()
    keys = sorted((repo / "keys").iterdir())
    assert keys and stat.S_IMODE((repo / "keys").stat().st_mode) == 0o700
    for path in (f"keys/{keys[0].name}", f"metadata/../keys/{keys[0].name}",
                 f"metadata/%2e%2e/keys/{keys[0].name}", "root.json", ".lock", "metadata/"):
        done = _curl("--cacert", cloud.ca, "--path-as-is", "-o", os.devnull,
                     "-w", "%{http_code}", cloud.models_url + path)
        assert _status(done) in (403, 404), path


def test_a_workstation_checks_the_cloud_for_models(cloud: LocalCloud, tmp_path: Path):
    home = tmp_path / "home"
    for key, value in (("models.url", cloud.models_url), ("models.root", cloud.models_root),
                       ("cloud.ca_bundle", cloud.ca)):
        assert run_cli("config", "set", key, value, home=home).returncode == 0

    def check() -> dict:
        done = run_cli("models", "check", "--json", home=home)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    # The cloud publishes the shipped model, which is the built-in active one.
    shipped = _shipped_version()
    first = check()
    assert (first["active"], first["candidate"]) == (shipped, None)
    assert "up to date" in first["reason"]

    major, minor, patch = (int(n) for n in shipped.split("."))
    newer = f"{major}.{minor}.{patch + 1}"
    nginx_pid = (cloud.directory / "nginx.pid").read_text()
    published = cloud.publish_model(shipped_model_copy(tmp_path / "newer", newer))
    assert published["target"] == f"stable/mammodesk-phantom-{newer}.tar"
    second = check()  # served at once: nginx was not restarted
    assert (second["active"], second["candidate"]) == (shipped, newer)
    assert (cloud.directory / "nginx.pid").read_text() == nginx_pid
    listed = json.loads(run_cli("models", "list", "--json", home=home).stdout)
    assert [(c["name"], c["version"], c["ok"]) for c in listed["candidates"]] == [
        ("mammodesk-phantom", newer, True)]
    assert listed["active"]["version"] == shipped


def _models_status(cloud: LocalCloud) -> int:
    return requests.get(cloud.models_url + "metadata/timestamp.json", verify=cloud.ca,
                        timeout=30).status_code


def test_start_brings_an_older_nginx_configuration_up_to_date(cloud: LocalCloud):
    # nginx configured by a local-cloud from before the model repository:
    # start restarts it with the /models/ locations, on the same port.
    conf = cloud.directory / "nginx.conf"
    current = conf.read_text()
    older = re.sub(r"\n        location /models/.*?\n\n", "\n", current, flags=re.S)
    assert "/models/" not in older
    conf.write_text(older)
    os.kill(int((cloud.directory / "nginx.pid").read_text()), signal.SIGHUP)  # reload
    deadline = time.monotonic() + 20
    while _models_status(cloud) == 200:  # now Orthanc's, behind the password
        assert time.monotonic() < deadline, "nginx did not reload its configuration"
        time.sleep(0.2)
    port = cloud.https_port
    cloud.ensure_running()
    assert cloud.https_port == port
    assert _models_status(cloud) == 200
    assert conf.read_text() == current


def test_start_refuses_a_model_repository_folder_it_did_not_make(tmp_path: Path):
    (tmp_path / "cloud" / "model-repo").mkdir(parents=True)
    (tmp_path / "cloud" / "model-repo" / "notes.txt").write_text("not a repository")
    done = subprocess.run([str(SCRIPT), "start", str(tmp_path / "cloud")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "model-repo" in done.stderr and "not a model repository" in done.stderr
    assert _processes_of(tmp_path / "cloud") == []
    assert sorted(p.name for p in (tmp_path / "cloud" / "model-repo").iterdir()) == ["notes.txt"]
