"""A hostile or broken cloud cannot exhaust or hang the workstation, or confirm what
it does not hold.

Each test points the real client at a loopback server that misbehaves in one way
(tests/support/hostile_server.py) and checks what a clinic would notice: the call ends in
bounded time, memory stays small, the error is the kind the sync loop retries
later, and nothing queued is lost or marked confirmed.
"""

from __future__ import annotations

import math
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.library import Library, import_paths, outbox
from engine.settings import Settings
from sync import runner
from sync.config import CloudConfig
from sync.dicomweb import ping, qido_instances, stow
from sync.errors import ConfigError, SyncError, TransientError
from sync.http import make_session
from sync.progress import ProgressFile
from sync.retry import Backoff
from tests.support.hostile_server import (
    DRIP,
    ENDLESS_CHUNKED,
    FULL_PAGES,
    GZIP_BOMB,
    HUGE_LENGTH,
    LISTING,
    OK,
    REDIRECT,
    SLOW_READER,
    HostileServer,
)

pytestmark = pytest.mark.slow  # the fast tier (-m "not slow") leaves it to CI

STUDY = "2.25.4242"
SOPS = [f"{STUDY}.{i}" for i in range(1, 4)]
DEADLINE_S = 1.0  # the whole-request deadline the tests configure (the default is minutes)
MB = 1024 * 1024


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileServer]]:
    started: list[HostileServer] = []

    def start(mode: str = OK, **settings: object) -> HostileServer:
        server = HostileServer(mode, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.close()


def cfg_for(server: HostileServer, **kw: object) -> CloudConfig:
    values: dict[str, object] = {"user": "reader", "dev_plain_http": True, "connect_timeout": 3,
                                 "read_timeout": 3, "request_deadline": DEADLINE_S,
                                 "min_upload_rate": 1e9, **kw}
    return CloudConfig(url=server.url, **values)  # type: ignore[arg-type]


@pytest.fixture
def files(tmp_path: Path) -> list[tuple[Path, str]]:
    out = []
    for i, sop in enumerate(SOPS):
        path = tmp_path / f"instance{i}.dcm"
        path.write_bytes(b"\0" * 128 + b"DICM" + bytes([i]) * 2000)
        out.append((path, sop))
    return out


def measured(call: Callable[[], object]) -> tuple[Exception | None, float, int]:
    """(what ``call`` raised, seconds it took, peak bytes it allocated)."""
    tracemalloc.start()
    started = time.monotonic()
    raised: Exception | None = None
    try:
        call()
    except Exception as exc:  # the test looks at what it was
        raised = exc
    finally:
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, elapsed, peak


def assert_retry_later(raised: BaseException | None) -> None:
    assert isinstance(raised, TransientError), repr(raised)
    message = str(raised)
    assert "\n" not in message
    assert STUDY not in message and not any(s in message for s in SOPS)


def _stow(cfg: CloudConfig, files: list[tuple[Path, str]]) -> Callable[[], object]:
    return lambda: stow(make_session(cfg), cfg.url, STUDY, files, timeout=timeout_of(cfg),
                        deadline=cfg.request_deadline, min_rate=cfg.min_upload_rate)


def _qido(cfg: CloudConfig, expected: list[str] = SOPS, page: int = 1000
          ) -> Callable[[], object]:
    return lambda: qido_instances(make_session(cfg), cfg.url, STUDY, expected=expected,
                                  timeout=timeout_of(cfg), deadline=cfg.request_deadline,
                                  page=page)


def timeout_of(cfg: CloudConfig) -> tuple[float, float]:
    return (cfg.connect_timeout, cfg.read_timeout)


# -- size caps ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [HUGE_LENGTH, ENDLESS_CHUNKED, GZIP_BOMB])
@pytest.mark.parametrize("kind", ["stow", "qido", "ping"])
def test_an_endless_answer_is_cut_off_at_a_few_megabytes(hostile, files, mode, kind):
    server = hostile(mode)
    cfg = cfg_for(server, request_deadline=30.0)  # the cap, not the deadline, must stop it
    call = {"stow": _stow(cfg, files), "qido": _qido(cfg),
            "ping": lambda: ping(make_session(cfg), cfg.url, timeout=(3, 3), deadline=30.0)}[kind]
    raised, elapsed, peak = measured(call)
    assert_retry_later(raised)
    assert "too large" in str(raised)
    assert elapsed < 10
    assert peak < 40 * MB, f"{peak / MB:.0f} MB held"
    if mode == HUGE_LENGTH:  # refused on its Content-Length, before reading the body
        assert peak < 4 * MB


@pytest.mark.parametrize("mode", [HUGE_LENGTH, ENDLESS_CHUNKED])
def test_an_oversized_token_answer_is_refused(hostile, mode):
    from sync.auth import device_sign_in

    server = hostile(mode)
    cfg = cfg_for(server, auth="oauth2-device", client_id="ws-1", request_deadline=30.0,
                  token_url=f"{server.origin}/token", device_url=f"{server.origin}/device")
    shown: list[str] = []
    raised, elapsed, peak = measured(lambda: device_sign_in(
        cfg, make_session(cfg), lambda uri, code: shown.append(code), sleep=lambda _s: None))
    assert_retry_later(raised)
    assert elapsed < 10 and peak < 8 * MB
    assert shown == []


# -- the whole-request deadline ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["stow", "qido", "ping"])
def test_an_answer_dripping_a_byte_at_a_time_ends_at_the_deadline(hostile, files, kind):
    server = hostile(DRIP, interval=0.2)  # each byte well inside the 3 s read timeout
    cfg = cfg_for(server)
    call = {"stow": _stow(cfg, files), "qido": _qido(cfg),
            "ping": lambda: ping(make_session(cfg), cfg.url, timeout=(3, 3),
                                 deadline=DEADLINE_S)}[kind]
    raised, elapsed, _ = measured(call)
    assert_retry_later(raised)
    assert "within" in str(raised)
    assert elapsed < DEADLINE_S + 2.5


def test_an_upload_the_server_reads_slowly_ends_at_the_deadline(hostile, tmp_path):
    big = tmp_path / "big.dcm"
    big.write_bytes(b"\x01" * (24 * MB))
    # 640 kB/s: every send finishes well inside the per-read timeout, the whole never.
    server = hostile(SLOW_READER, read_rate=640 * 1024)
    cfg = cfg_for(server)
    raised, elapsed, peak = measured(_stow(cfg, [(big, SOPS[0])]))
    assert_retry_later(raised)
    assert "within" in str(raised)
    assert elapsed < DEADLINE_S + 2.5
    assert peak < 8 * MB


def test_the_stow_deadline_grows_with_the_upload(hostile, tmp_path):
    """A big batch on a slow link gets longer than a small request, not a fixed limit."""
    from sync.bounded import upload_deadline

    assert upload_deadline(10.0, 0, min_rate=1000) == 10.0
    assert upload_deadline(10.0, 64 * MB, min_rate=32 * 1024) == pytest.approx(10.0 + 2048)
    # A bandwidth cap slower than the minimum rate stretches the deadline to fit.
    assert upload_deadline(10.0, 10_000, rate_limit=100.0, min_rate=1000) >= 10.0 + 100
    big = tmp_path / "big.dcm"
    big.write_bytes(b"\x01" * (3 * MB))
    server = hostile(SLOW_READER, read_rate=2 * MB)  # 1.5 s for the whole body
    cfg = cfg_for(server, min_upload_rate=512 * 1024)  # allows 1 s + 6 s
    raised, elapsed, _ = measured(_stow(cfg, [(big, SOPS[0])]))
    assert raised is None, repr(raised)
    assert elapsed > DEADLINE_S  # longer than a small request may take, and not cut off
    assert server.requests[0].body_bytes > 3 * MB


# -- QIDO paging bounded by what is being confirmed --------------------------------------


def test_endless_full_pages_stop_after_what_the_study_can_hold(hostile):
    server = hostile(FULL_PAGES)
    cfg = cfg_for(server, request_deadline=30.0)
    raised, elapsed, _ = measured(_qido(cfg, expected=SOPS, page=2))
    assert_retry_later(raised)
    assert len(server.requests) <= math.ceil(len(SOPS) / 2) + 1
    assert elapsed < 5


def test_paging_stops_as_soon_as_every_expected_instance_is_seen(hostile):
    held = [f"{STUDY}.{i}" for i in range(1, 13)]
    server = hostile(LISTING, listing=held)
    cfg = cfg_for(server, request_deadline=30.0)
    found = qido_instances(make_session(cfg), cfg.url, STUDY, expected=held[:3], page=4,
                           deadline=30.0)
    assert found == set(held[:3])
    assert len(server.requests) == 1


# -- confirmation only from the configured origin ----------------------------------------


@pytest.mark.parametrize("kind", ["qido", "ping", "stow", "token"])
def test_a_redirect_to_another_server_is_not_followed(hostile, files, kind):
    elsewhere = hostile(LISTING, listing=SOPS)  # would confirm everything
    server = hostile(REDIRECT, location=elsewhere.origin)
    cfg = cfg_for(server, request_deadline=30.0, auth="oauth2-device", client_id="ws-1",
                  token_url=f"{server.origin}/token", device_url=f"{server.origin}/device")
    if kind == "token":
        from sync.auth import device_sign_in

        def call() -> object:
            return device_sign_in(cfg, make_session(cfg), lambda *_: None,
                                  sleep=lambda _s: None)
    else:
        call = {"qido": _qido(cfg), "stow": _stow(cfg, files),
                "ping": lambda: ping(make_session(cfg), cfg.url, deadline=30.0)}[kind]
    raised, _, _ = measured(call)
    assert isinstance(raised, SyncError), repr(raised)
    assert "redirect" in str(raised) and "\n" not in str(raised)
    assert len(server.requests) == 1
    assert elsewhere.requests == []


def test_the_session_itself_refuses_redirects(hostile):
    """Not each call site: a request that asks to follow redirects still does not."""
    elsewhere = hostile(LISTING, listing=SOPS)
    server = hostile(REDIRECT, location=elsewhere.origin)
    session = make_session(cfg_for(server))
    with pytest.raises(ConfigError, match="redirect"):
        session.get(f"{server.url}/studies/{STUDY}/instances", allow_redirects=True, timeout=3)
    assert elsewhere.requests == []


# -- through the sync loop: nothing queued is lost or confirmed --------------------------


@pytest.fixture(scope="module")
def one_study(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    from engine.phantom import generate_cohort

    return list(generate_cohort(tmp_path_factory.mktemp("one"), 1, seed=11,
                                size="small").files)


class FakeStager:
    """Stands in for de-identification: writes a small staged file per queued object."""

    def __init__(self, library: Library, root: Path) -> None:
        self.library = library
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def prepare(self, items: list[outbox.Item], on_item: object = None) -> None:
        for item in items:
            if item.state != outbox.QUEUED:
                continue
            name = f"{item.id}.dcm"
            (self.root / name).write_bytes(b"\0" * 128 + b"DICM" + bytes([item.id % 256]) * 500)
            outbox.mark_staged(self.library, item.id, staged=name, size=632,
                               out_study_uid=STUDY, out_sop_uid=f"{STUDY}.{item.id}")

    def staged_path(self, rel: str) -> Path:
        return self.root / rel

    def discard(self, item: outbox.Item) -> None:
        (self.root / (item.staged or "")).unlink(missing_ok=True)

    def close(self) -> None:
        pass


@pytest.fixture
def queued(tmp_path: Path, one_study: list[Path]) -> Iterator[tuple[Library, int]]:
    with Library(tmp_path / "library") as library:
        import_paths(library, one_study)
        (uid,) = [u for (u,) in library.conn.execute("SELECT study_uid FROM studies")]
        count = outbox.enqueue(library, [uid], "manual")
        yield library, count


def run_sync(library: Library, cfg: CloudConfig, tmp_path: Path) -> tuple[BaseException | None,
                                                                           float]:
    sync = runner.SyncRunner(library, Settings(tmp_path / "config"), cfg, make_session(cfg),
                             None, FakeStager(library, tmp_path / "outbox"),  # type: ignore[arg-type]
                             once=True, backoff=Backoff(base=0.001, cap=0.01),
                             status=ProgressFile(library.root))
    raised, elapsed, _ = measured(sync.run)
    return raised, elapsed


def states(library: Library) -> dict[str, int]:
    counts = outbox.counts(library)
    return {state: counts[state]["objects"] for state in outbox.STATES if counts[state]["objects"]}


def assert_nothing_lost(library: Library, count: int) -> None:
    outbox.recover(library)  # what the next run does first
    assert states(library) == {outbox.DEIDENTIFIED: count}


def test_the_loop_retries_an_oversized_stow_answer_and_keeps_the_queue(hostile, queued,
                                                                        tmp_path):
    library, count = queued
    server = hostile(HUGE_LENGTH)
    raised, elapsed = run_sync(library, cfg_for(server), tmp_path)
    assert_retry_later(raised)
    assert len(server.requests) == runner.MAX_TRIES_ONCE  # retried, then left for later
    assert elapsed < 15
    assert_nothing_lost(library, count)


def test_the_loop_retries_a_dripping_stow_answer_and_keeps_the_queue(hostile, queued,
                                                                      tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "MAX_TRIES_ONCE", 2)
    library, count = queued
    server = hostile(DRIP, interval=0.2)
    threads = threading.active_count()
    raised, elapsed = run_sync(library, cfg_for(server), tmp_path)
    assert_retry_later(raised)
    assert len(server.requests) == 2
    assert elapsed < 2 * DEADLINE_S + 3
    assert_nothing_lost(library, count)
    time.sleep(0.3)  # the server's handler threads notice the client left
    assert threading.active_count() <= threads  # no watchdog left running


def test_endless_qido_pages_confirm_nothing_and_keep_the_queue(hostile, queued, tmp_path):
    library, count = queued
    server = hostile(modes={"POST": OK, "GET": FULL_PAGES})
    raised, _ = run_sync(library, cfg_for(server, request_deadline=30.0), tmp_path)
    assert_retry_later(raised)
    gets = [r for r in server.requests if r.method == "GET"]
    assert len(gets) <= runner.MAX_TRIES_ONCE * 2
    assert_nothing_lost(library, count)


def test_a_redirected_qido_confirms_nothing(hostile, queued, tmp_path):
    library, count = queued
    wanted = [f"{STUDY}.{i}" for i in range(1, 100)]  # every out UID the stager can give
    elsewhere = hostile(LISTING, listing=wanted)
    server = hostile(modes={"POST": OK, "GET": REDIRECT}, location=elsewhere.origin)
    raised, _ = run_sync(library, cfg_for(server, request_deadline=30.0), tmp_path)
    assert isinstance(raised, ConfigError) and "redirect" in str(raised)
    assert elsewhere.requests == []
    assert_nothing_lost(library, count)

