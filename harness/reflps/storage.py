"""The reference LPS's own storage: received messages and the acknowledgements it gave."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS message (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    header_id TEXT NOT NULL,
    bundle_id TEXT,
    event TEXT,
    activity TEXT,
    patient_cpr TEXT,
    sender_sor TEXT,
    received_at TEXT NOT NULL,
    fmt TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS message_header ON message(header_id);
CREATE TABLE IF NOT EXISTS ack (
    header_id TEXT PRIMARY KEY,
    code TEXT NOT NULL,
    body TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredMessage:
    header_id: str
    bundle_id: str
    event: str
    activity: str
    patient_cpr: str
    sender_sor: str
    received_at: str
    fmt: str


class Storage:
    """SQLite, one connection guarded by a lock (uvicorn may call from worker threads)."""

    def __init__(self, path: Path | None = None) -> None:
        target = str(path) if path else ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.executescript(_SCHEMA)
            if path:
                self._db.execute("PRAGMA journal_mode=WAL")

    @property
    def connection(self) -> sqlite3.Connection:
        return self._db

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def reset(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM message")
            self._db.execute("DELETE FROM ack")

    def store_message(self, msg: StoredMessage) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO message(header_id, bundle_id, event, activity, patient_cpr,"
                " sender_sor, received_at, fmt) VALUES (?,?,?,?,?,?,?,?)",
                (
                    msg.header_id,
                    msg.bundle_id,
                    msg.event,
                    msg.activity,
                    msg.patient_cpr,
                    msg.sender_sor,
                    msg.received_at,
                    msg.fmt,
                ),
            )

    def store_ack(self, header_id: str, code: str, ack: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO ack(header_id, code, body) VALUES (?,?,?)",
                (header_id, code, json.dumps(ack)),
            )

    def find_ack(self, header_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM ack WHERE header_id=?", (header_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    def messages(self, header_id: str = "", patient_cpr: str = "") -> list[StoredMessage]:
        query = (
            "SELECT header_id, bundle_id, event, activity, patient_cpr, sender_sor,"
            " received_at, fmt FROM message WHERE 1=1"
        )
        args: list[str] = []
        if header_id:
            query += " AND header_id=?"
            args.append(header_id)
        if patient_cpr:
            query += " AND patient_cpr=?"
            args.append(patient_cpr)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY seq", args).fetchall()
        return [StoredMessage(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
