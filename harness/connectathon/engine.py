"""The connectathon store's engine: the run store's, with a pool of PostgreSQL connections.

The run store opens a fresh PostgreSQL connection per operation (harness.store.connection):
right for one case per transaction, but the recording proxy writes an exchange per request
and the live matrix reads several times a second, and a new backend costs 5-10 ms. So the
connectathon keeps a bounded pool, with the run store's libpq settings (connect timeout,
keepalives, server-side timeouts) on every connection and its per-operation watchdog
(`bounded`) on every use. What a pool adds is a connection gone stale (a server restart):
each check-out pings it first, under a timer of its own, since a stalled server would
otherwise hold the ping without bound; a failed ping makes the pool connect afresh.
SQLite is the run store's engine as it is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError

from harness.store.connection import DEADLINES, make_engine, postgres_args, shut_down_socket

POOL_SIZE = 8  # connections kept open: the proxy's recorder, the web's workers, the runner
POOL_OVERFLOW = 8  # more at a peak, closed again after use
POOL_RECYCLE_S = 600  # a connection older than this is replaced at its next check-out


def connectathon_engine(url: str, timeout: float) -> Engine:
    """`url` as SQLAlchemy takes it (postgresql+psycopg:// or sqlite:///)."""
    if url.startswith("sqlite"):
        return make_engine(url, timeout)
    engine = create_engine(
        url,
        connect_args=postgres_args(url, timeout),
        pool_size=POOL_SIZE,
        max_overflow=POOL_OVERFLOW,
        pool_timeout=timeout,  # waiting for a free connection is bounded too
        pool_recycle=POOL_RECYCLE_S,
    )

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # the run store's watchdogs' one thread: no timer thread per check-out
        fileno = getattr(dbapi_conn, "fileno", None)
        fd = fileno() if fileno is not None else -1
        cancel = DEADLINES.after(timeout, lambda: shut_down_socket(fd)) if fd >= 0 else None
        try:
            cursor = dbapi_conn.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_conn.rollback()  # the ping's own transaction: nothing is left open
        except Exception:
            # SQLAlchemy's pessimistic disconnect handling: the pool drops it, connects anew
            raise DisconnectionError("stale connection") from None
        finally:
            if cancel is not None:
                cancel()

    return engine
