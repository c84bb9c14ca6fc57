"""How kcert talks to its run store: engines, bounded waits and retries.

SQLite: every write transaction is `BEGIN IMMEDIATE`, so concurrent runs queue for the write
lock (busy timeout) instead of failing when a read transaction cannot be upgraded; a store still
busy after that is retried a bounded number of times with backoff.

PostgreSQL: libpq's connect timeout, server-side statement and idle-in-transaction timeouts and
TCP keepalives bound what the server can bound. A server that is stalled outright (SIGSTOP, a
frozen VM) still ACKs TCP, so none of those fire: a watchdog shuts the connection's socket down
when one store operation takes longer than the timeout, which turns the hang into an error.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError, SQLAlchemyError
from sqlalchemy.pool import NullPool

TIMEOUT_ENV = "KCERT_STORE_TIMEOUT"
DEFAULT_TIMEOUT_S = 15.0
MAX_TIMEOUT_S = 3600.0
BUSY_TIMEOUT_MS = 10_000
BUSY_RETRIES = 8  # on top of the busy timeout: about 10 s more of backoff at most
WRITE_OPTION = "kcert_write"

T = TypeVar("T")


class StoreTimeout(RuntimeError):
    """One store operation outlived the timeout (the server did not answer)."""


def store_timeout(value: float | str | None = None) -> float:
    """The per-operation bound in seconds: the argument, else KCERT_STORE_TIMEOUT, else 15."""
    raw = value if value is not None else os.environ.get(TIMEOUT_ENV)
    if raw is None or raw == "":
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if not 1 <= seconds <= MAX_TIMEOUT_S:
        raise ValueError(f"store timeout {raw!r}: must be between 1 and {MAX_TIMEOUT_S:g} s")
    return seconds


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, timeout: float) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    return _postgres_engine(url, timeout)


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # kcert emits BEGIN itself (below); the driver's own implicit transactions would defer
        # the write lock to the first write, where SQLite cannot wait for it.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        # the busy timeout first: switching a fresh file to WAL already needs the lock
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        # WAL: readers never block the writer, and a killed writer loses nothing committed.
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _postgres_engine(url: str, timeout: float) -> Engine:
    # A fresh connection per operation: nothing stale is handed out after a server restart,
    # and the connect itself is bounded by connect_timeout (a pool's pre-ping is not).
    return create_engine(url, connect_args=postgres_args(url, timeout), poolclass=NullPool)


def postgres_args(url: str, timeout: float) -> dict[str, Any]:
    """libpq settings bounding every wait; what the URL itself sets is kept."""
    given = set(make_url(url).query)
    ms = int(timeout * 1000)
    settings = {
        "connect_timeout": max(2, int(timeout)),
        # a dead peer or a cut network: the kernel gives up after about the timeout
        "keepalives": 1,
        "keepalives_idle": max(1, int(timeout / 3)),
        "keepalives_interval": max(1, int(timeout / 6)),
        "keepalives_count": 3,
        "tcp_user_timeout": ms,
    }
    args: dict[str, Any] = {k: v for k, v in settings.items() if k not in given}
    if "options" not in given:
        args["options"] = (
            f"-c statement_timeout={ms} -c lock_timeout={ms} "
            f"-c idle_in_transaction_session_timeout={2 * ms}"
        )
    return args


@contextmanager
def bounded(engine: Engine, timeout: float, *, write: bool) -> Iterator[Connection]:
    """A connection inside one transaction; on PostgreSQL cut off after `timeout` seconds."""
    with engine.connect() as conn:
        if write:
            conn = conn.execution_options(**{WRITE_OPTION: True})
        watchdog = None if is_sqlite(engine) else _Watchdog(conn, timeout)
        try:
            with conn.begin():
                yield conn
        except SQLAlchemyError:
            if watchdog is not None and watchdog.fired:
                raise StoreTimeout(f"no answer within {timeout:g} s (server stalled?)") from None
            raise
        finally:
            if watchdog is not None:
                watchdog.cancel()


class _Deadlines:
    """One thread for every watchdog of the process. A timer thread per operation would cost
    more than the operation itself on a busy machine (starting a thread: about a millisecond
    under load), and the connectathon's proxy records an exchange per request."""

    def __init__(self) -> None:
        self._tokens = itertools.count()
        self._reset()
        # a forked child has no watchdog thread, and the lock may have been held at the fork
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._ready = threading.Condition()
        self._due: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._thread: threading.Thread | None = None

    def after(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        """Runs `action` after `delay` seconds unless the returned cancel is called first."""
        with self._ready:
            token = next(self._tokens)
            heapq.heappush(self._due, (time.monotonic() + delay, token, action))
            if self._thread is None or not self._thread.is_alive():  # first use, or a fork
                self._thread = threading.Thread(
                    target=self._run, name="kcert-store-watchdog", daemon=True
                )
                self._thread.start()
            self._ready.notify()
        return lambda: self._cancel(token)

    def _cancel(self, token: int) -> None:
        with self._ready:
            self._cancelled.add(token)

    def _run(self) -> None:
        while True:
            with self._ready:
                while True:
                    # cancelled entries leave when they reach the top: at most rate x timeout
                    while self._due and self._due[0][1] in self._cancelled:
                        self._cancelled.discard(heapq.heappop(self._due)[1])
                    if not self._due:
                        self._ready.wait()
                        continue
                    wait = self._due[0][0] - time.monotonic()
                    if wait <= 0:
                        _, _, action = heapq.heappop(self._due)
                        break
                    self._ready.wait(wait)
            # one action's failure must not stop every later watchdog
            with contextlib.suppress(Exception):
                action()


DEADLINES = _Deadlines()


def shut_down_socket(fd: int) -> None:
    """Shuts the socket behind `fd` down: a read blocked on it then fails."""
    try:
        # a duplicate of the descriptor: shutdown acts on the shared socket, close on ours
        with socket.socket(fileno=os.dup(fd)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed: the operation ended on its own


class _Watchdog:
    """Shuts a connection's socket down when its time is up: the blocked read then fails."""

    def __init__(self, conn: Connection, timeout: float) -> None:
        self.fired = False
        dbapi = conn.connection.dbapi_connection
        fileno = getattr(dbapi, "fileno", None)
        self._fd = fileno() if fileno is not None else -1
        self._cancel = DEADLINES.after(timeout, self._fire) if self._fd >= 0 else None

    def _fire(self) -> None:
        self.fired = True
        shut_down_socket(self._fd)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel()


def is_busy(exc: SQLAlchemyError) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError) and ("locked" in text or "busy" in text)


def is_schema_race(exc: SQLAlchemyError) -> bool:
    """What two processes creating the same tables at once can see: worth one more look."""
    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, IntegrityError | ProgrammingError | OperationalError) and (
        "already exists" in text or "duplicate" in text or "unique" in text
    )


def retrying(work: Callable[[], T], should_retry: Callable[[SQLAlchemyError], bool]) -> T:
    """`work` again after a transient failure, with jittered backoff; bounded."""
    delay = 0.05
    for attempt in range(BUSY_RETRIES + 1):
        try:
            return work()
        except SQLAlchemyError as exc:
            if attempt == BUSY_RETRIES or not should_retry(exc):
                raise
        time.sleep(delay * (0.5 + random.random()))  # jitter: retries do not march in step
        delay = min(delay * 2, 2.0)
    raise AssertionError("unreachable")
