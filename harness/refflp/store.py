"""The service's storage: plans and shared documents in SQLite (WAL) or PostgreSQL (psycopg 3).

One SQL text serves both (placeholders written `?`, turned into `%s` for psycopg). Writes take
the write lock up front (SQLite `BEGIN IMMEDIATE`); the schema is created idempotently under a
lock (SQLite's write lock, a PostgreSQL advisory lock), so N workers starting at once agree.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from harness.refflp import cpd, synthetic
from harness.refflp.pool import Pool

BUSY_TIMEOUT_MS = 10_000
SCHEMA_LOCK_KEY = 7_315_001  # the PostgreSQL advisory lock guarding schema set-up
INDEXES = {
    # the clinic's cockpit list: its plans of one package, newest first
    "flp_plans_cockpit": "flp_plans (clinic, package, updated, id)",
    # the patient's plan view: the patient's plans, newer than the two-year cut-off
    "flp_plans_patient": "flp_plans (patient, effective)",
}


def _schema(blob: str) -> tuple[str, ...]:
    return (
        "CREATE TABLE IF NOT EXISTS flp_plans (id TEXT PRIMARY KEY, clinic TEXT NOT NULL, "
        "package TEXT NOT NULL, patient TEXT NOT NULL, version INTEGER NOT NULL, "
        "effective TEXT NOT NULL, updated TEXT NOT NULL, goals TEXT NOT NULL, "
        f"document {blob} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS flp_shared (id TEXT PRIMARY KEY, plan TEXT NOT NULL, "
        f"version INTEGER NOT NULL, created TEXT NOT NULL, document {blob} NOT NULL, "
        "UNIQUE (plan, version))",
    )


class NotFound(LookupError):
    pass


class Stale(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(f"the plan is at version {current}")
        self.current = current


class WrongOwner(Exception):
    """The update names another clinic or another patient than the plan's."""


def stamp(moment: dt.datetime) -> str:
    """A fixed-width UTC time that sorts as text."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class CockpitItem:
    patient: str
    plan: str
    version: int
    updated: str


class Tx:
    """One transaction's statements, counted (the n-plus-one tests read the count)."""

    def __init__(self, store: Store, cursor: Any) -> None:
        self._store = store
        self._cursor = cursor

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._store.kind == "postgresql" else sql

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._store.queries += 1
        self._cursor.execute(self._sql(sql), tuple(params))
        return list(self._cursor.fetchall())

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._store.queries += 1
        self._cursor.execute(self._sql(sql), tuple(params))
        return int(self._cursor.rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._store.queries += 1
        self._cursor.executemany(self._sql(sql), rows)


class Store:
    def __init__(self, db: str, pool_size: int = 8) -> None:
        self.db = db
        self.kind = "postgresql" if db.startswith(("postgresql://", "postgres://")) else "sqlite"
        self.queries = 0  # statements run by this process (tests read it)
        self._pool: Pool[Any] = Pool(self._connect, pool_size)
        if self.kind == "postgresql":
            import psycopg

            self.errors: tuple[type[Exception], ...] = (psycopg.Error,)
        else:
            self.errors = (sqlite3.Error,)

    def _connect(self) -> Any:
        if self.kind == "postgresql":
            import psycopg

            return psycopg.connect(
                self.db,
                autocommit=True,
                connect_timeout=10,
                options="-c statement_timeout=30000 -c lock_timeout=10000",
            )
        conn = sqlite3.connect(
            self.db, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    @contextmanager
    def tx(self, write: bool = False) -> Iterator[Tx]:
        with self._pool.connection(self.errors) as conn:
            cursor = conn.cursor()
            begin = "BEGIN IMMEDIATE" if write and self.kind == "sqlite" else "BEGIN"
            cursor.execute(begin)
            try:
                yield Tx(self, cursor)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")

    def close(self) -> None:
        self._pool.close()

    # -- schema ----------------------------------------------------------------------------

    def ensure_schema(self, indexes: bool = True) -> None:
        """Tables (and, unless the missing-index defect is on, their indexes), idempotently."""
        with self.tx(write=True) as tx:
            if self.kind == "postgresql":
                tx.rows("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK_KEY,))
            for statement in _schema("BYTEA" if self.kind == "postgresql" else "BLOB"):
                tx.run(statement)
            for name, on in INDEXES.items():
                if indexes:
                    tx.run(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
                else:
                    tx.run(f"DROP INDEX IF EXISTS {name}")
        if self.kind == "postgresql":
            with self._pool.connection(self.errors) as conn:
                conn.execute("ANALYZE flp_plans")

    # -- plans -----------------------------------------------------------------------------

    def create(self, clinic: str, plan: cpd.CarePlan, document: bytes) -> str:
        plan_id = uuid.uuid4().hex
        with self.tx(write=True) as tx:
            tx.run(
                "INSERT INTO flp_plans (id, clinic, package, patient, version, effective, updated, "
                "goals, document) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)",
                (
                    plan_id,
                    clinic,
                    plan.package,
                    plan.patient,
                    stamp(plan.effective),
                    stamp(now()),
                    json.dumps(list(plan.goals)),
                    document,
                ),
            )
        return plan_id

    def update(
        self, plan_id: str, expected: int, clinic: str, plan: cpd.CarePlan, document: bytes
    ) -> int:
        with self.tx(write=True) as tx:
            found = tx.rows(
                "SELECT version, clinic, patient FROM flp_plans WHERE id = ?", (plan_id,)
            )
            if not found:
                raise NotFound(plan_id)
            version, owner, patient = found[0]
            if clinic and clinic != owner:
                raise WrongOwner(f"the plan belongs to clinic {owner}, not {clinic}")
            if plan.patient != patient:
                raise WrongOwner("the document is for another patient than the plan")
            if int(version) != expected:
                raise Stale(int(version))
            tx.run(
                "UPDATE flp_plans SET version = version + 1, package = ?, effective = ?, "
                "updated = ?, goals = ?, document = ? WHERE id = ? AND version = ?",
                (
                    plan.package,
                    stamp(plan.effective),
                    stamp(now()),
                    json.dumps(list(plan.goals)),
                    document,
                    plan_id,
                    expected,
                ),
            )
        return expected + 1

    def read(self, plan_id: str) -> tuple[int, bytes]:
        with self.tx() as tx:
            found = tx.rows("SELECT version, document FROM flp_plans WHERE id = ?", (plan_id,))
        if not found:
            raise NotFound(plan_id)
        return int(found[0][0]), bytes(found[0][1])

    def patient_plans(self, cpr: str, cutoff: dt.datetime, limit: int) -> list[dict[str, Any]]:
        with self.tx() as tx:
            rows = tx.rows(
                "SELECT id, package, clinic, version, updated, goals FROM flp_plans "
                "WHERE patient = ? AND effective >= ? ORDER BY updated DESC, id DESC LIMIT ?",
                (cpr, stamp(cutoff), limit),
            )
        return [
            {
                "id": row[0],
                "package": row[1],
                "clinic": row[2],
                "version": int(row[3]),
                "updated": row[4],
                "goals": json.loads(row[5]),
            }
            for row in rows
        ]

    def cockpit(
        self, clinic: str, package: str, offset: int, size: int, n_plus_one: bool = False
    ) -> tuple[int, list[CockpitItem]]:
        where = "FROM flp_plans WHERE clinic = ? AND package = ?"
        order = "ORDER BY updated DESC, id DESC LIMIT ? OFFSET ?"
        with self.tx() as tx:
            total = int(tx.rows(f"SELECT COUNT(*) {where}", (clinic, package))[0][0])
            if not n_plus_one:
                rows = tx.rows(
                    f"SELECT patient, id, version, updated {where} {order}",
                    (clinic, package, size, offset),
                )
                return total, [CockpitItem(r[0], r[1], int(r[2]), r[3]) for r in rows]
            # The defect: the page's ids first, then each plan loaded on its own, as a lazy
            # object mapping does after its session closed: a query, on a connection of its
            # own, per row, and the row's document read to find the patient.
            ids = tx.rows(f"SELECT id {where} {order}", (clinic, package, size, offset))
        items = []
        for (plan_id,) in ids:
            items.append(self._lazy_item(str(plan_id)))
        return total, items

    def _lazy_item(self, plan_id: str) -> CockpitItem:
        conn = self._connect()
        try:
            cursor = conn.cursor()
            self.queries += 1
            cursor.execute(
                Tx(self, cursor)._sql(
                    "SELECT id, version, updated, document FROM flp_plans WHERE id = ?"
                ),
                (plan_id,),
            )
            row = cursor.fetchone()
        finally:
            conn.close()
        patient = cpd.read_plan(bytes(row[3]), 1 << 20).patient
        return CockpitItem(patient, row[0], int(row[1]), row[2])

    def share(self, plan_id: str) -> tuple[int, str]:
        with self.tx(write=True) as tx:
            found = tx.rows("SELECT version, document FROM flp_plans WHERE id = ?", (plan_id,))
            if not found:
                raise NotFound(plan_id)
            version, document = int(found[0][0]), bytes(found[0][1])
            tx.run(
                "INSERT INTO flp_shared (id, plan, version, created, document) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (plan, version) DO NOTHING",
                (uuid.uuid4().hex, plan_id, version, stamp(now()), document),
            )
            shared = tx.rows(
                "SELECT id FROM flp_shared WHERE plan = ? AND version = ?", (plan_id, version)
            )
        return version, str(shared[0][0])

    def shared(self, document_id: str) -> bytes:
        with self.tx() as tx:
            found = tx.rows("SELECT document FROM flp_shared WHERE id = ?", (document_id,))
        if not found:
            raise NotFound(document_id)
        return bytes(found[0][0])

    # -- admin -----------------------------------------------------------------------------

    def seed(self, clinics: int, per_clinic: int, seed: int) -> list[str]:
        """Synthetic plans for `clinics` clinics, in one transaction; their SOR codes."""
        rng = random.Random(seed)
        sors = [seed_sor(i) for i in range(clinics)]
        first = (seed % 8) * 250_000  # distinct seeds, distinct persons
        moment = now()
        rows: list[tuple[Any, ...]] = []
        for c, sor in enumerate(sors):
            for k in range(per_clinic):
                index = c * per_clinic + k
                cpr = synthetic.cpr(first + index)
                package = "kol" if rng.random() < 0.6 else "lbp"
                # spread over three years, so the two-year rule hides about a third
                effective = moment - dt.timedelta(seconds=rng.uniform(0, 3 * 365.25 * 86400))
                goals = [f"Mål {index % 7 + 1}", "Gå en tur dagligt"]
                plan_id = uuid.UUID(int=rng.getrandbits(128)).hex
                document = cpd.render_plan(
                    doc_id=plan_id,
                    cpr=cpr,
                    package=package,
                    clinic=sor,
                    effective=effective,
                    goals=goals,
                )
                when = stamp(effective)
                rows.append(
                    (plan_id, sor, package, cpr, 1, when, when, json.dumps(goals), document)
                )
        columns = "id, clinic, package, patient, version, effective, updated, goals, document"
        with self.tx(write=True) as tx:
            tx.many(
                f"INSERT INTO flp_plans ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO NOTHING",
                rows,
            )
        if self.kind == "postgresql":
            with self._pool.connection(self.errors) as conn:
                conn.execute("ANALYZE flp_plans")
        else:
            with self.tx(write=True) as tx:
                tx.run("ANALYZE")
        return sors

    def reset(self) -> None:
        with self.tx(write=True) as tx:
            tx.run("DELETE FROM flp_shared")
            tx.run("DELETE FROM flp_plans")


def seed_sor(index: int) -> str:
    """The SOR code of the index-th seeded clinic (15 digits, kcert's 9999 test prefix)."""
    return f"9999{index:07d}0016"
