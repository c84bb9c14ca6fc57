"""The run store under concurrency and a stalled database: nothing lost, nothing hangs."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from harness.fixtures import REPO_ROOT
from harness.model.result import RunResult, SutInfo
from harness.runner.engine import new_run_id
from harness.store import connection
from harness.store import tables as t
from harness.store.connection import StoreTimeout, bounded, store_timeout
from harness.store.runstore import RunStore, StoreError, engine_url
from harness.tests.test_store import PG_ENV, _postgres_url

PROTOCOL = str(REPO_ROOT / "testcases" / "carecommunication-receive.yaml")
ANSWERS = str(REPO_ROOT / "fixtures" / "answers" / "reference-lps.yaml")
RUNS = 20
PGDATA_ENV = "KCERT_TEST_PGDATA"  # the throw-away server's data folder (.ci/postgres.sh)
_SUT = SutInfo(name="x", vendor="", version="", transport="", endpoints={}, identity={})


def _env(**extra: str) -> dict[str, str]:
    env = {
        "COLUMNS": "200",
        "PATH": "/usr/bin:/bin",
        "PYTHONIOENCODING": "utf-8",
        "KCERT_PACKS": os.environ.get("KCERT_PACKS", ""),
        "HOME": os.environ.get("HOME", "/root"),
    }
    env.update(extra)
    return env


def _certify(store: str, reports: Path, *cases: str, **env: str) -> subprocess.Popen[str]:
    selection = [arg for case in cases for arg in ("--case", case)]
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "harness.cli.main", "certify", "--sut", "reference"),
            *("--transport", "inprocess", "--protocols", PROTOCOL, *selection, "--no-packs"),
            *("--answers", ANSWERS, "--reports", str(reports), "--store", store),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPO_ROOT,
        env=_env(**env),
    )


def _run_ids(url: str) -> list[str]:
    store = RunStore(url)
    try:
        return [r.run_id for r in store.runs() if r.status == "finished"]
    finally:
        store.close()


@contextmanager
def _fresh_postgres() -> Iterator[str]:
    """A database of its own on the test server, so concurrent first use really is first."""
    base = _postgres_url()
    name = f"kcert_c_{uuid.uuid4().hex[:10]}"
    admin = create_engine(engine_url(base), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# -- concurrent first use --------------------------------------------------------------------

_WRITER = """
import sys
from harness.model.result import RunResult, SutInfo
from harness.runner.engine import new_run_id
from harness.store.runstore import RunStore
store = RunStore(sys.argv[1])
sut = SutInfo(name="x", vendor="", version="", transport="", endpoints={}, identity={})
run = RunResult(new_run_id(), sut, "egentest", "", started="2026-01-01T00:00:00+00:00")
store.begin_run(run, {}, [])
store.finish_run(run, None)
print(run.run_id)
"""


def _writers(url: str, count: int) -> list[subprocess.CompletedProcess[str]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO_ROOT,
            env=_env(),
        )
        for _ in range(count)
    ]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def _record_one(url: str) -> str:
    store = RunStore(url)
    try:
        run = RunResult(
            run_id=new_run_id(),
            sut=_SUT,
            started="2026-01-01T00:00:00+00:00",
            test_type="egentest",
            tester="",
        )
        store.begin_run(run, {}, [])
        store.finish_run(run, None)
        return run.run_id
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_twenty_threads_opening_a_new_store_at_once_all_record(tmp_path: Path, kind: str) -> None:
    with (
        _fresh_postgres()
        if kind == "postgresql"
        else nullcontext(f"sqlite:///{tmp_path / 'new' / 'runs.sqlite'}") as url
    ):
        with ThreadPoolExecutor(RUNS) as pool:
            ids = list(pool.map(_record_one, [url] * RUNS))
        assert sorted(_run_ids(url)) == sorted(ids)


# Twenty whole certify runs cost about a minute of CPU: SQLite gets them (its file locking is
# what broke), PostgreSQL twenty processes recording a run each (its race was schema set-up).
@pytest.mark.slow
def test_twenty_processes_opening_a_new_postgres_store_at_once_all_record() -> None:
    with _fresh_postgres() as url:
        done = _writers(url, RUNS)
        assert [d.stderr for d in done if d.returncode] == []
        assert sorted(_run_ids(url)) == sorted(d.stdout.strip() for d in done)


def test_a_duplicate_run_id_is_refused_not_mixed(tmp_path: Path) -> None:
    store = RunStore(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    run = RunResult("20260101T000000Z-x", _SUT, "egentest", "", started="2026")
    store.begin_run(run, {}, [])
    with pytest.raises(StoreError, match="already holds a run 20260101T000000Z-x"):
        store.begin_run(run, {}, [])


def test_opening_a_store_twice_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'runs.sqlite'}"
    for _ in range(3):
        RunStore(url).close()
    with create_engine(url).connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.store_info)).scalar() == 1


def test_store_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert store_timeout() == 15
    monkeypatch.setenv("KCERT_STORE_TIMEOUT", "4.5")
    assert store_timeout() == 4.5
    monkeypatch.setenv("KCERT_STORE_TIMEOUT", "soon")
    with pytest.raises(StoreError, match="KCERT_STORE_TIMEOUT='soon' is not a number"):
        RunStore("sqlite://")
    monkeypatch.setenv("KCERT_STORE_TIMEOUT", "0")
    with pytest.raises(StoreError, match="between 1 and"):
        RunStore("sqlite://")


@pytest.mark.slow
def test_twenty_concurrent_certify_runs_on_a_new_sqlite_store_all_record(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store' / 'runs.sqlite'}"
    _twenty_certify_runs(url, tmp_path)


def _twenty_certify_runs(url: str, tmp_path: Path) -> None:
    procs = [_certify(url, tmp_path / f"r{i}", "CC-R-01") for i in range(RUNS)]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    failed = [out[-400:] for p, out in zip(procs, outputs, strict=True) if p.returncode != 0]
    assert failed == []
    assert len(set(_run_ids(url))) == RUNS


# -- a stalled PostgreSQL --------------------------------------------------------------------


class StallingProxy:
    """A TCP proxy on 127.0.0.1: forwards to `target` until stall(), then holds every byte.

    Without a target it accepts and never answers: a server that took the connection and froze.
    """

    def __init__(self, target: tuple[str, int] | None = None) -> None:
        self.target = target
        self.stalled = threading.Event()
        self.closing = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, base: str = "postgresql://kcert@127.0.0.1/kcert") -> str:
        return make_url(base).set(host="127.0.0.1", port=self.port).render_as_string(False)

    def stall(self) -> None:
        self.stalled.set()

    def close(self) -> None:
        self.closing.set()
        self.thread.join(timeout=5)
        for sock in [self.listener, *self.sockets]:
            sock.close()

    def _accept(self) -> None:
        while not self.closing.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.sockets.append(client)
            if self.target is None or self.stalled.is_set():
                continue
            upstream = socket.create_connection(self.target, timeout=5)
            self.sockets.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        source.settimeout(0.2)
        while not self.closing.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            while self.stalled.is_set() and not self.closing.is_set():
                time.sleep(0.05)  # hold it: the server "froze" with the request in hand
            try:
                sink.sendall(data)
            except OSError:
                return


@contextmanager
def _proxy(target: tuple[str, int] | None = None) -> Iterator[StallingProxy]:
    proxy = StallingProxy(target)
    try:
        yield proxy
    finally:
        proxy.close()


def test_a_server_that_accepts_and_never_answers_is_an_error_within_the_bound() -> None:
    with _proxy() as proxy:
        began = time.monotonic()
        with pytest.raises(StoreError, match=r"run store postgresql://kcert@127\.0\.0\.1"):
            RunStore(proxy.url(), timeout=2)
        assert time.monotonic() - began < 8


def test_a_server_that_stalls_mid_use_is_an_error_within_the_bound() -> None:
    with _fresh_postgres() as url:
        parsed = make_url(url)
        with _proxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy:
            store = RunStore(proxy.url(url), timeout=2)
            assert store.runs() == []
            proxy.stall()
            began = time.monotonic()
            # each operation connects afresh: the connect is what times out here
            with pytest.raises(StoreError, match=r"connection timeout expired"):
                store.runs()
            assert time.monotonic() - began < 6
            store.close()
        assert _run_ids(url) == []  # the server itself is fine and holds what it held


def test_a_server_that_stalls_during_an_operation_is_cut_off_by_the_watchdog() -> None:
    with _fresh_postgres() as url:
        parsed = make_url(url)
        with _proxy((parsed.host or "127.0.0.1", parsed.port or 5432)) as proxy:
            store = RunStore(proxy.url(url), timeout=2)
            began = time.monotonic()
            with (
                pytest.raises(StoreTimeout, match=r"no answer within 2 s"),
                bounded(store.engine, 2, write=False) as conn,
            ):
                proxy.stall()
                conn.execute(text("SELECT 1"))
            assert time.monotonic() - began < 6
            store.close()


@pytest.mark.slow
def test_certify_against_a_stalling_server_exits_2_within_the_bound(tmp_path: Path) -> None:
    with _proxy() as proxy:
        began = time.monotonic()
        proc = _certify(proxy.url(), tmp_path, "CC-R-01", KCERT_STORE_TIMEOUT="3")
        out = proc.communicate(timeout=60)[0]
        assert proc.returncode == 2, out
        assert time.monotonic() - began < 20
        assert "kcert: fejl: run store postgresql://kcert@127.0.0.1" in out
        assert "Traceback" not in out


def _postmaster_and_backends(pgdata: Path) -> list[int]:
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    pids = [postmaster]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:  # field 4 of stat: the parent
            pids.append(int(stat.parent.name))
    return pids


def _signal(pid: int, sig: signal.Signals) -> None:
    # a backend of one store operation may end between listing and signalling: nothing to stop
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


@pytest.mark.slow
def test_a_sigstopped_postgres_is_exit_2_within_the_bound_and_resume_works(
    tmp_path: Path,
) -> None:
    pgdata = os.environ.get(PGDATA_ENV, "")
    if not pgdata:
        if os.environ.get("KCERT_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{PGDATA_ENV} is not set but this CI run requires the PostgreSQL store")
        pytest.skip(f"no throw-away PostgreSQL to SIGSTOP: {PGDATA_ENV} (set by .ci/postgres.sh)")
    assert os.environ.get(PG_ENV)
    bound = 5
    with _fresh_postgres() as url:
        RunStore(url).close()  # the tables exist before the run, so they can be watched
        proc = _certify(url, tmp_path, KCERT_STORE_TIMEOUT=str(bound))
        deadline = time.monotonic() + 60
        recorded = 0
        watch = create_engine(engine_url(url), poolclass=NullPool)
        count = select(func.count()).select_from(t.case_results)
        while not recorded and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            with watch.connect() as conn:
                recorded = conn.execute(count).scalar() or 0
        watch.dispose()
        assert proc.poll() is None, "the run ended before the server could be stopped"
        pids = _postmaster_and_backends(Path(pgdata))
        for pid in pids:
            _signal(pid, signal.SIGSTOP)
        try:
            began = time.monotonic()
            out = proc.communicate(timeout=bound * 4 + 10)[0]
            took = time.monotonic() - began
        finally:
            for pid in pids:
                _signal(pid, signal.SIGCONT)
        assert proc.returncode == 2, out
        assert took < bound * 2 + 5, f"took {took:.1f} s"
        # the next store operation connects afresh (connect timeout) or was under way (watchdog)
        assert re.search(
            rf"run store .*: (connection timeout expired|no answer within {bound} s)", out
        )
        assert "Traceback" not in out
        resumed = subprocess.run(
            [
                *(sys.executable, "-m", "harness.cli.main", "resume", "latest", "--store", url),
                *("--answers", ANSWERS, "--reports", str(tmp_path)),
            ],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=_env(),
            timeout=120,
        )
        assert resumed.returncode in (0, 1), resumed.stdout + resumed.stderr
        store = RunStore(url)
        (run,) = store.runs()
        assert run.status == "finished"
        assert len(store.case_summaries(run.run_id)) == 13  # every case of the protocol
        store.close()


# -- bounded retries -------------------------------------------------------------------------


def _locked() -> OperationalError:
    return OperationalError("INSERT …", {}, Exception("database is locked"))


def test_a_busy_store_is_tried_again_until_it_frees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection.time, "sleep", lambda _s: None)
    failures = [_locked(), _locked()]

    def work() -> str:
        if failures:
            raise failures.pop()
        return "written"

    assert connection.retrying(work, connection.is_busy) == "written"


def test_busy_retries_are_bounded_and_other_errors_not_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connection.time, "sleep", lambda _s: None)
    calls: list[int] = []

    def always_locked() -> None:
        calls.append(1)
        raise _locked()

    with pytest.raises(OperationalError, match="database is locked"):
        connection.retrying(always_locked, connection.is_busy)
    assert len(calls) == connection.BUSY_RETRIES + 1
    calls.clear()

    def broken() -> None:
        calls.append(1)
        raise OperationalError("SELECT …", {}, Exception("no such table: runs"))

    with pytest.raises(OperationalError, match="no such table"):
        connection.retrying(broken, connection.is_busy)
    assert calls == [1]


def test_postgres_gets_timeouts_and_keepalives_unless_the_url_says_otherwise() -> None:
    args = connection.postgres_args("postgresql+psycopg://u@127.0.0.1/db?connect_timeout=3", 10)
    assert "connect_timeout" not in args  # the URL's own value wins
    assert connection.postgres_args("postgresql://u@h/db", 10)["connect_timeout"] == 10
    assert args["keepalives"] == 1 and args["tcp_user_timeout"] == 10_000
    assert "statement_timeout=10000" in args["options"]
    assert "idle_in_transaction_session_timeout=20000" in args["options"]
