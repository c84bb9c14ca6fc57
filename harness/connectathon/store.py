"""ConnectathonStore: the connectathon's sessions, systems, instances, traffic and grades.

Its `cx_*` tables (harness.connectathon.tables) live in the run store's database, so one URL
(a SQLite file for a local trial, PostgreSQL for the event) holds both the test instances and
the normal kcert runs they point at. Engines, bounded waits, busy retries and the exclusive
schema set-up are the run store's (harness.store.connection); this module only adds the
connectathon's rows. Thread-safe: every operation takes its own connection and transaction,
and on SQLite the writes of one process queue on a lock (the proxy records from many
connection threads) instead of on SQLite's busy timeout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import Any, TypeVar, get_args

from sqlalchemy import Connection, delete, insert, inspect, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from harness.checks.realcpr import mask_real_cprs, mask_text
from harness.connectathon import tables as t
from harness.connectathon.model import (
    GRADES,
    SIMULATED,
    Account,
    Binding,
    ConnectathonSession,
    Endpoint,
    Grade,
    GradeKind,
    InstanceStatus,
    InstanceStep,
    MatrixCell,
    Outcome,
    RecordedExchange,
    ScenarioInfo,
    ScenarioRole,
    System,
    TestInstance,
)
from harness.dates import now_iso
from harness.store.connection import (
    StoreTimeout,
    bounded,
    is_busy,
    is_schema_race,
    is_sqlite,
    make_engine,
    retrying,
    store_timeout,
)
from harness.store.runstore import (
    SCHEMA_LOCK,
    StoreError,
    _reason,
    default_url,
    display_url,
    engine_url,
)

MAX_BODY_BYTES = 5 * 1024 * 1024  # per recorded request or response body; the rest is cut
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024  # per grading attachment (a screenshot, a log)
MAX_EXCHANGES = 10_000  # the most one `exchanges` call returns, whatever limit is asked
MAX_NAME = 200  # attachment names and content types
MAX_SESSION_SUFFIX = 1000  # sessions of one name: name, name-2, … name-1000

T = TypeVar("T")
_SLUG = re.compile(r"[^a-z0-9]+")
_KINDS: tuple[str, ...] = get_args(GradeKind)
_STATUSES: tuple[str, ...] = get_args(InstanceStatus)
_OUTCOMES: tuple[str, ...] = get_args(Outcome)

__all__ = [
    "MAX_ATTACHMENT_BYTES",
    "MAX_BODY_BYTES",
    "AttachmentTooLarge",
    "ConnectathonStore",
    "StoreError",
    "open_connectathon_store",
    "slug",
]


class AttachmentTooLarge(ValueError):
    """An attachment over MAX_ATTACHMENT_BYTES: refused, with its size in the message."""


def slug(text_: str, fallback: str = "x", limit: int = 60) -> str:
    """Lower-case a-z0-9 words joined by '-': ids derived from names people typed."""
    folded = text_.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    return _SLUG.sub("-", folded).strip("-")[:limit].strip("-") or fallback


def open_connectathon_store(url: str | None, reports: Path) -> ConnectathonStore:
    """The store at `url`, or the run store's default for `reports` (KCERT_STORE or its file)."""
    return ConnectathonStore(url or default_url(reports))


class ConnectathonStore:
    """Implements harness.connectathon.api.StoreApi. Failures of the database itself are a
    StoreError (the run store's); unknown ids a KeyError; bad values a ValueError."""

    def __init__(self, url: str, timeout: float | None = None) -> None:
        self.url = url
        try:
            self.timeout = store_timeout(timeout)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        self._writing: threading.Lock | None = None
        try:
            self.engine = make_engine(engine_url(url), self.timeout)
            if is_sqlite(self.engine):
                self._writing = threading.Lock()
            retrying(self._set_up, lambda e: is_busy(e) or is_schema_race(e))
        except SQLAlchemyError as exc:
            raise StoreError(f"connectathon store {display_url(url)}: {_reason(exc)}") from None
        except StoreTimeout as exc:
            raise StoreError(f"connectathon store {display_url(url)}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"connectathon store {display_url(url)}: {exc.strerror}") from None

    def _set_up(self) -> None:
        # the run store's advisory lock: its set-up and ours never interleave on one database
        with bounded(self.engine, self.timeout, write=True) as conn:
            if not is_sqlite(self.engine):
                conn.execute(select(text(f"pg_advisory_xact_lock({SCHEMA_LOCK})")))
            t.metadata.create_all(conn)
            found = conn.execute(select(t.info.c.value).where(t.info.c.key == "schema")).scalar()
            if found is None:
                conn.execute(insert(t.info).values(key="schema", value=str(t.SCHEMA_VERSION)))
            elif found != str(t.SCHEMA_VERSION):
                raise StoreError(
                    f"connectathon store {display_url(self.url)} has schema {found}; "
                    f"this kcert reads schema {t.SCHEMA_VERSION}"
                )
            found_columns = inspect(conn)
            for table, column, sql in t.ADDED_COLUMNS:
                if column not in {c["name"] for c in found_columns.get_columns(table)}:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql}"))

    def close(self) -> None:
        self.engine.dispose()

    def _write(self, work: Callable[[Connection], T]) -> T:
        """`work` in one write transaction, retried (bounded) while SQLite is busy."""

        def attempt() -> T:
            with bounded(self.engine, self.timeout, write=True) as conn:
                return work(conn)

        try:
            if self._writing is None:
                return retrying(attempt, is_busy)
            with self._writing:
                return retrying(attempt, is_busy)
        except SQLAlchemyError as exc:
            raise StoreError(
                f"connectathon store {display_url(self.url)}: {_reason(exc, self.timeout)}"
            ) from None
        except StoreTimeout as exc:
            raise StoreError(f"connectathon store {display_url(self.url)}: {exc}") from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        try:
            with bounded(self.engine, self.timeout, write=False) as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(
                f"connectathon store {display_url(self.url)}: {_reason(exc, self.timeout)}"
            ) from None
        except StoreTimeout as exc:
            raise StoreError(f"connectathon store {display_url(self.url)}: {exc}") from None

    # -- sessions and systems ----------------------------------------------------------------

    def create_session(
        self, name: str, starts: str, ends: str, scenarios: list[str]
    ) -> ConnectathonSession:
        name = name.strip()
        if not name:
            raise ValueError("name: a session needs a name")
        start_day, end_day = _iso_date("starts", starts), _iso_date("ends", ends)
        if end_day < start_day:
            raise ValueError(f"ends: {ends} is before starts {starts}")
        in_scope = tuple(dict.fromkeys(s.strip() for s in scenarios if s.strip()))
        base = slug(name, "session")

        def write(conn: Connection) -> ConnectathonSession:
            taken = set(
                conn.execute(
                    select(t.sessions.c.session_id).where(
                        t.sessions.c.session_id.startswith(base, autoescape=True)
                    )
                ).scalars()
            )
            session_id = next(
                (
                    candidate
                    for n in range(1, MAX_SESSION_SUFFIX + 1)
                    if (candidate := base if n == 1 else f"{base}-{n}") not in taken
                ),
                None,
            )
            if session_id is None:
                raise ValueError(f"name: {MAX_SESSION_SUFFIX} sessions are named {name!r}")
            session = ConnectathonSession(
                session_id, name, start_day.isoformat(), end_day.isoformat(), in_scope, now_iso()
            )
            conn.execute(
                insert(t.sessions).values(
                    session_id=session.session_id,
                    name=session.name,
                    starts=session.starts,
                    ends=session.ends,
                    scenarios=list(session.scenarios),
                    created=session.created,
                )
            )
            return session

        return self._write(write)

    def sessions(self) -> list[ConnectathonSession]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.sessions).order_by(t.sessions.c.created, t.sessions.c.session_id)
            ).mappings()
            return [_session(r) for r in rows]

    def session(self, session_id: str) -> ConnectathonSession:
        with self._read() as conn:
            return _session_in(conn, session_id)

    def set_scenarios(self, session_id: str, infos: Sequence[ScenarioInfo]) -> None:
        """What pairing knew of the session's scenarios (roles, titles), for the matrix and
        the export. Not part of StoreApi: pairing.pair_session calls it."""

        def write(conn: Connection) -> None:
            _require_session(conn, session_id)
            for info in infos:
                conn.execute(
                    delete(t.scenarios).where(
                        t.scenarios.c.session_id == session_id,
                        t.scenarios.c.scenario_id == info.scenario_id,
                    )
                )
                conn.execute(
                    insert(t.scenarios).values(
                        session_id=session_id,
                        scenario_id=info.scenario_id,
                        info=dataclasses.asdict(info),
                    )
                )

        self._write(write)

    def scenario_infos(self, session_id: str) -> list[ScenarioInfo]:
        with self._read() as conn:
            return _scenario_infos_in(conn, session_id)

    def register_system(self, system: System) -> None:
        """Registers the system, or replaces an earlier registration of the same id."""
        if not system.system_id or system.system_id == SIMULATED:
            raise ValueError(f"system_id: {system.system_id!r} cannot name a registered system")

        def write(conn: Connection) -> None:
            _require_session(conn, system.session_id)
            conn.execute(
                delete(t.systems).where(
                    t.systems.c.session_id == system.session_id,
                    t.systems.c.system_id == system.system_id,
                )
            )
            conn.execute(
                insert(t.systems).values(
                    session_id=system.session_id,
                    system_id=system.system_id,
                    vendor=system.vendor,
                    product=system.product,
                    version=system.version,
                    roles=list(system.roles),
                    registration=system.registration,
                    files=system.files,
                )
            )

        self._write(write)

    def systems(self, session_id: str) -> list[System]:
        with self._read() as conn:
            return _systems_in(conn, session_id)

    def system(self, session_id: str, system_id: str) -> System:
        with self._read() as conn:
            row = (
                conn.execute(
                    select(t.systems).where(
                        t.systems.c.session_id == session_id, t.systems.c.system_id == system_id
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise KeyError(f"no system {system_id!r} in session {session_id!r}")
        return _system(row)

    # -- test instances and their steps ------------------------------------------------------

    def add_instances(self, instances: list[TestInstance]) -> None:
        """Adds the instances the store does not hold yet; one it holds is left as it is (a
        re-pairing never resets an instance that already ran or was graded)."""

        def write(conn: Connection) -> None:
            for session_id in {i.session_id for i in instances}:
                _require_session(conn, session_id)
            ids = [i.instance_id for i in instances]
            held: set[str] = set()
            for chunk in _chunks(ids, 500):
                held.update(
                    conn.execute(
                        select(t.instances.c.instance_id).where(
                            t.instances.c.instance_id.in_(chunk)
                        )
                    ).scalars()
                )
            new = [i for i in dict((i.instance_id, i) for i in instances).values()]
            rows = [_instance_row(i) for i in new if i.instance_id not in held]
            if rows:
                conn.execute(insert(t.instances), rows)

        self._write(write)

    def instances(self, session_id: str, system_id: str | None = None) -> list[TestInstance]:
        with self._read() as conn:
            found = _instances_in(conn, session_id)
        if system_id is None:
            return found
        return [i for i in found if any(b.system_id == system_id for b in i.bindings)]

    def instance(self, instance_id: str) -> TestInstance:
        with self._read() as conn:
            row = (
                conn.execute(select(t.instances).where(t.instances.c.instance_id == instance_id))
                .mappings()
                .first()
            )
        if row is None:
            raise KeyError(f"no test instance {instance_id!r}")
        return _instance(row)

    def update_instance(self, instance: TestInstance) -> None:
        values = _instance_row(instance)
        del values["instance_id"]

        def write(conn: Connection) -> None:
            done = conn.execute(
                update(t.instances)
                .where(t.instances.c.instance_id == instance.instance_id)
                .values(**values)
            )
            if done.rowcount == 0:
                raise KeyError(f"no test instance {instance.instance_id!r}")

        self._write(write)

    def save_steps(self, instance_id: str, steps: list[InstanceStep]) -> None:
        def write(conn: Connection) -> None:
            _require_instance(conn, instance_id)
            conn.execute(delete(t.steps).where(t.steps.c.instance_id == instance_id))
            rows = [
                {
                    "instance_id": instance_id,
                    "step_id": s.step_id,
                    "seq": s.seq,
                    "sender": s.sender,
                    "receiver": s.receiver,
                    "title": s.title,
                    "outcome": s.outcome,
                    "started": s.started,
                    "finished": s.finished,
                    "findings": _masked_findings(s.findings),
                }
                for s in steps
            ]
            if rows:
                conn.execute(insert(t.steps), rows)

        self._write(write)

    def steps(self, instance_id: str) -> list[InstanceStep]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.steps).where(t.steps.c.instance_id == instance_id).order_by(t.steps.c.seq)
            ).mappings()
            return [
                InstanceStep(
                    r["instance_id"],
                    r["step_id"],
                    r["seq"],
                    r["sender"],
                    r["receiver"],
                    r["title"],
                    r["outcome"],
                    r["started"],
                    r["finished"],
                    list(r["findings"]),
                )
                for r in rows
            ]

    # -- proxy endpoints and recorded traffic ------------------------------------------------

    def save_endpoint(self, endpoint: Endpoint) -> None:
        def write(conn: Connection) -> None:
            conn.execute(
                delete(t.endpoints).where(
                    t.endpoints.c.session_id == endpoint.session_id,
                    t.endpoints.c.endpoint_id == endpoint.endpoint_id,
                )
            )
            conn.execute(insert(t.endpoints).values(**dataclasses.asdict(endpoint)))

        self._write(write)

    def endpoints(self, session_id: str) -> list[Endpoint]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.endpoints)
                .where(t.endpoints.c.session_id == session_id)
                .order_by(t.endpoints.c.endpoint_id)
            ).mappings()
            return [Endpoint(**dict(r)) for r in rows]

    def record_exchange(self, exchange: RecordedExchange) -> None:
        """Inserts or replaces. Real-format CPR numbers are masked (the proxy forwards bytes
        unaltered, but the store keeps none), and each body is cut at MAX_BODY_BYTES, which
        the exchange's `error` then says."""
        values = _exchange_row(exchange)

        def write(conn: Connection) -> None:
            conn.execute(
                delete(t.exchanges).where(t.exchanges.c.exchange_id == values["exchange_id"])
            )
            conn.execute(insert(t.exchanges).values(**values))

        self._write(write)

    def exchange(self, exchange_id: str) -> RecordedExchange:
        with self._read() as conn:
            row = (
                conn.execute(select(t.exchanges).where(t.exchanges.c.exchange_id == exchange_id))
                .mappings()
                .first()
            )
        if row is None:
            raise KeyError(f"no recorded exchange {exchange_id!r}")
        return _exchange(row)

    def exchanges(
        self,
        session_id: str,
        instance_id: str | None = None,
        unmatched: bool = False,
        limit: int = 1000,
    ) -> list[RecordedExchange]:
        """In the order they started; `unmatched`: those matched to no instance."""
        query = select(t.exchanges).where(t.exchanges.c.session_id == session_id)
        if instance_id is not None:
            query = query.where(t.exchanges.c.instance_id == instance_id)
        if unmatched:
            query = query.where(t.exchanges.c.instance_id == "")
        query = query.order_by(t.exchanges.c.started, t.exchanges.c.exchange_id)
        with self._read() as conn:
            rows = conn.execute(query.limit(max(0, min(limit, MAX_EXCHANGES)))).mappings()
            return [_exchange(r) for r in rows]

    # -- grading -----------------------------------------------------------------------------

    def add_grade(self, grade: Grade) -> None:
        """Keeps the act (the audit trail) and applies it to the instance: `claim` sets who
        has claimed it (its grade stays), `reopen` puts it back to waiting and unclaimed, and
        `auto`, `monitor` and `override` set its grade. The newest act decides."""
        if grade.grade not in GRADES:
            raise ValueError(f"grade: {grade.grade!r} is not one of {', '.join(GRADES)}")
        if grade.kind not in _KINDS:
            raise ValueError(f"kind: {grade.kind!r} is not one of {', '.join(_KINDS)}")
        if not grade.by:
            raise ValueError("by: a grade names who gave it")

        def write(conn: Connection) -> None:
            _require_instance(conn, grade.instance_id)
            if grade.attachments:
                held = set(
                    conn.execute(
                        select(t.attachments.c.attachment_id).where(
                            t.attachments.c.instance_id == grade.instance_id,
                            t.attachments.c.attachment_id.in_(grade.attachments),
                        )
                    ).scalars()
                )
                missing = [a for a in grade.attachments if a not in held]
                if missing:
                    raise ValueError(
                        f"attachments: {', '.join(missing)} not saved for {grade.instance_id}"
                    )
            conn.execute(
                insert(t.grades).values(
                    instance_id=grade.instance_id,
                    grade=grade.grade,
                    kind=grade.kind,
                    by=grade.by,
                    at=grade.at or now_iso(),
                    comment=mask_text(grade.comment),
                    attachments=list(grade.attachments),
                )
            )
            change: dict[str, str]
            if grade.kind == "claim":
                change = {"claimed_by": grade.by}
            elif grade.kind == "reopen":
                change = {"grade": "waiting", "claimed_by": ""}
            else:
                change = {"grade": grade.grade}
            conn.execute(
                update(t.instances)
                .where(t.instances.c.instance_id == grade.instance_id)
                .values(**change)
            )

        self._write(write)

    def grades(self, instance_id: str) -> list[Grade]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.grades)
                .where(t.grades.c.instance_id == instance_id)
                .order_by(t.grades.c.id)
            ).mappings()
            return [
                Grade(
                    r["instance_id"],
                    r["grade"],
                    r["kind"],
                    r["by"],
                    r["at"],
                    r["comment"],
                    tuple(r["attachments"]),
                )
                for r in rows
            ]

    def save_attachment(self, instance_id: str, name: str, content_type: str, data: bytes) -> str:
        if len(data) > MAX_ATTACHMENT_BYTES:
            raise AttachmentTooLarge(
                f"attachment {name!r}: {len(data) / 1_048_576:.1f} MB is more than the "
                f"{MAX_ATTACHMENT_BYTES // 1_048_576} MB an attachment may have"
            )
        # the base name only: an uploaded file's name is the browser's, never a path here
        clean = PurePath(name.replace("\\", "/")).name.strip()[:MAX_NAME] or "attachment"
        attachment_id = uuid.uuid4().hex

        def write(conn: Connection) -> None:
            _require_instance(conn, instance_id)
            conn.execute(
                insert(t.attachments).values(
                    attachment_id=attachment_id,
                    instance_id=instance_id,
                    name=clean,
                    content_type=(content_type or "application/octet-stream")[:MAX_NAME],
                    sha256=hashlib.sha256(data).hexdigest(),
                    data=data,
                )
            )

        self._write(write)
        return attachment_id

    def attachment(self, attachment_id: str) -> tuple[str, str, bytes]:
        with self._read() as conn:
            row = (
                conn.execute(
                    select(t.attachments).where(t.attachments.c.attachment_id == attachment_id)
                )
                .mappings()
                .first()
            )
        if row is None:
            raise KeyError(f"no attachment {attachment_id!r}")
        return row["name"], row["content_type"], bytes(row["data"])

    def attachment_instance(self, attachment_id: str) -> str:
        """The instance an attachment belongs to (the web's access check): KeyError if none."""
        with self._read() as conn:
            found = conn.execute(
                select(t.attachments.c.instance_id).where(
                    t.attachments.c.attachment_id == attachment_id
                )
            ).scalar()
        if found is None:
            raise KeyError(f"no attachment {attachment_id!r}")
        return str(found)

    # -- accounts ----------------------------------------------------------------------------

    def add_account(self, account: Account) -> None:
        """Adds the account, or replaces the one of the same username (a new password)."""

        def write(conn: Connection) -> None:
            conn.execute(delete(t.accounts).where(t.accounts.c.username == account.username))
            conn.execute(insert(t.accounts).values(**dataclasses.asdict(account)))

        self._write(write)

    def account(self, username: str) -> Account | None:
        with self._read() as conn:
            row = (
                conn.execute(select(t.accounts).where(t.accounts.c.username == username))
                .mappings()
                .first()
            )
        return None if row is None else Account(**dict(row))

    def accounts(self) -> list[Account]:
        with self._read() as conn:
            rows = conn.execute(select(t.accounts).order_by(t.accounts.c.username)).mappings()
            return [Account(**dict(r)) for r in rows]

    # -- the results matrix ------------------------------------------------------------------

    def matrix(self, session_id: str) -> list[MatrixCell]:
        """One cell per registered system × scenario × role it plays there: its instances'
        grades counted, the partners of its verified instances (kcert for a simulated role),
        and the partners it needs and could have. A role registered for a scenario whose
        other roles nobody can play has a cell with no instances and no partner available."""
        # one read transaction: a consistent picture, and one connection instead of four
        with self._read() as conn:
            session = _session_in(conn, session_id)
            systems = _systems_in(conn, session_id)
            infos = {i.scenario_id: i for i in _scenario_infos_in(conn, session_id)}
            instances = _instances_in(conn, session_id)
        return _matrix(session, systems, infos, instances)


def _matrix(
    session: ConnectathonSession,
    systems: list[System],
    infos: dict[str, ScenarioInfo],
    instances: list[TestInstance],
) -> list[MatrixCell]:
    counts: dict[tuple[str, str, str], dict[str, int]] = {}
    used: dict[tuple[str, str, str], set[str]] = {}
    seen: dict[tuple[str, str, str], set[str]] = {}  # partners of any instance (no infos)
    width: dict[tuple[str, str, str], int] = {}
    for inst in instances:
        for n, binding in enumerate(inst.bindings):
            if binding.system_id == SIMULATED:
                continue
            key = (binding.system_id, inst.scenario_id, binding.role)
            cell = counts.setdefault(key, dict.fromkeys(GRADES, 0))
            cell[inst.grade] = cell.get(inst.grade, 0) + 1
            partners = {b.system_id for m, b in enumerate(inst.bindings) if m != n}
            seen.setdefault(key, set()).update(partners)
            width[key] = max(width.get(key, 0), len(partners))
            if inst.grade == "verified":
                used.setdefault(key, set()).update(partners)
    for scenario_id in session.scenarios:
        info = infos.get(scenario_id)
        for srole in info.roles if info else ():
            for system in systems:
                if srole.systems_may_play and srole.name in system.roles:
                    counts.setdefault(
                        (system.system_id, scenario_id, srole.name), dict.fromkeys(GRADES, 0)
                    )
    order_system = {s.system_id: n for n, s in enumerate(systems)}
    order_scenario = {s: n for n, s in enumerate(session.scenarios)}
    cells = []
    for key in sorted(
        counts,
        key=lambda k: (
            order_system.get(k[0], len(order_system)),
            k[0],
            order_scenario.get(k[1], len(order_scenario)),
            k[1],
            k[2],
        ),
    ):
        system_id, scenario_id, role = key
        info = infos.get(scenario_id)
        if info is not None:
            needed, available = _partners(info, role, system_id, systems)
        else:
            needed, available = max(1, width.get(key, 1)), len(seen.get(key, ()))
        cell = counts[key]
        cells.append(
            MatrixCell(
                system_id,
                scenario_id,
                role,
                verified=cell["verified"],
                waiting=cell["waiting"],
                partial=cell["partial"],
                failed=cell["failed"],
                partners_used=tuple(sorted(used.get(key, ()))),
                partners_needed=needed,
                partners_available=available,
            )
        )
    return cells


def _partners(
    info: ScenarioInfo, role: str, system_id: str, systems: list[System]
) -> tuple[int, int]:
    """(partners needed, partners available). An instance's partners are one system per
    other role a registered system plays, and kcert once for all the roles it simulates;
    available are the systems registered for those roles, and kcert where nobody registered
    and kcert may simulate; none at all when one other role can be played by nobody."""
    others = [r for r in info.roles if r.name != role]
    candidates: set[str] = set()
    needed, simulated = 0, False
    for other in others:
        registered = {
            s.system_id
            for s in systems
            if other.systems_may_play and other.name in s.roles and s.system_id != system_id
        }
        if registered:
            needed += 1
        elif other.simulated:
            registered, simulated = {SIMULATED}, True
        else:
            return max(1, len(others)), 0
        candidates |= registered
    return max(1, needed + simulated), len(candidates)


# -- rows ------------------------------------------------------------------------------------


def _iso_date(field_name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{field_name}: {value!r} is not a date (YYYY-MM-DD)") from None


def _session_in(conn: Connection, session_id: str) -> ConnectathonSession:
    row = (
        conn.execute(select(t.sessions).where(t.sessions.c.session_id == session_id))
        .mappings()
        .first()
    )
    if row is None:
        raise KeyError(f"no connectathon session {session_id!r}")
    return _session(row)


def _scenario_infos_in(conn: Connection, session_id: str) -> list[ScenarioInfo]:
    rows = conn.execute(
        select(t.scenarios.c.info).where(t.scenarios.c.session_id == session_id)
    ).scalars()
    return [_scenario_info(r) for r in rows]


def _systems_in(conn: Connection, session_id: str) -> list[System]:
    rows = conn.execute(
        select(t.systems)
        .where(t.systems.c.session_id == session_id)
        .order_by(t.systems.c.system_id)
    ).mappings()
    return [_system(r) for r in rows]


def _instances_in(conn: Connection, session_id: str) -> list[TestInstance]:
    rows = conn.execute(
        select(t.instances)
        .where(t.instances.c.session_id == session_id)
        .order_by(t.instances.c.seq)
    ).mappings()
    return [_instance(r) for r in rows]


def _require_session(conn: Connection, session_id: str) -> None:
    found = conn.execute(
        select(t.sessions.c.session_id).where(t.sessions.c.session_id == session_id)
    ).scalar()
    if found is None:
        raise KeyError(f"no connectathon session {session_id!r}")


def _require_instance(conn: Connection, instance_id: str) -> None:
    found = conn.execute(
        select(t.instances.c.instance_id).where(t.instances.c.instance_id == instance_id)
    ).scalar()
    if found is None:
        raise KeyError(f"no test instance {instance_id!r}")


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _session(row: Any) -> ConnectathonSession:
    return ConnectathonSession(
        row["session_id"],
        row["name"],
        row["starts"],
        row["ends"],
        tuple(row["scenarios"]),
        row["created"],
    )


def _scenario_info(raw: dict[str, Any]) -> ScenarioInfo:
    return ScenarioInfo(
        scenario_id=raw["scenario_id"],
        title_da=raw.get("title_da", ""),
        title_en=raw.get("title_en", ""),
        roles=tuple(ScenarioRole(**r) for r in raw.get("roles", ())),
        catches=tuple(raw.get("catches", ())),
    )


def _system(row: Any) -> System:
    return System(
        row["system_id"],
        row["session_id"],
        row["vendor"],
        row["product"],
        row["version"],
        tuple(row["roles"]),
        dict(row["registration"]),
        row["files"],
    )


def _instance_row(instance: TestInstance) -> dict[str, Any]:
    for name, value, allowed in (
        ("status", instance.status, _STATUSES),
        ("outcome", instance.outcome, _OUTCOMES),
        ("grade", instance.grade, GRADES),
    ):
        if value not in allowed:
            raise ValueError(
                f"{name}: {value!r} is not one of {', '.join(repr(a) for a in allowed)}"
            )
    return {
        "instance_id": instance.instance_id,
        "session_id": instance.session_id,
        "scenario_id": instance.scenario_id,
        "bindings": [{"role": b.role, "system_id": b.system_id} for b in instance.bindings],
        "status": instance.status,
        "outcome": instance.outcome,
        "grade": instance.grade,
        "run_id": instance.run_id,
        "patient": dict(instance.patient),
        "claimed_by": instance.claimed_by,
        "started": instance.started,
        "finished": instance.finished,
        "reason": mask_text(instance.reason),
    }


def _instance(row: Any) -> TestInstance:
    return TestInstance(
        instance_id=row["instance_id"],
        session_id=row["session_id"],
        scenario_id=row["scenario_id"],
        bindings=tuple(Binding(b["role"], b["system_id"]) for b in row["bindings"]),
        status=row["status"],
        outcome=row["outcome"],
        grade=row["grade"],
        run_id=row["run_id"],
        patient=dict(row["patient"]),
        claimed_by=row["claimed_by"],
        started=row["started"],
        finished=row["finished"],
        reason=row["reason"],
    )


def _masked_findings(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Finding messages may quote what a system sent: real-format CPR numbers masked."""
    return [
        {k: (mask_text(v) if isinstance(v, str) else v) for k, v in f.items()} for f in findings
    ]


def _cut(body: bytes, what: str, notes: list[str]) -> bytes:
    body = mask_real_cprs(bytes(body))
    if len(body) <= MAX_BODY_BYTES:
        return body
    notes.append(f"{what} body of {len(body)} bytes stored cut at {MAX_BODY_BYTES}")
    return body[:MAX_BODY_BYTES]


def _headers(headers: dict[str, str]) -> dict[str, str]:
    return {str(k): mask_text(str(v)) for k, v in headers.items()}


def _exchange_row(ex: RecordedExchange) -> dict[str, Any]:
    notes: list[str] = []
    request_body = _cut(ex.request_body, "request", notes)
    response_body = _cut(ex.response_body, "response", notes)
    error = "; ".join([e for e in (ex.error, *notes) if e])
    return {
        "exchange_id": ex.exchange_id,
        "session_id": ex.session_id,
        "endpoint_id": ex.endpoint_id,
        "source": ex.source,
        "target": ex.target,
        "method": ex.method,
        "path": mask_text(ex.path),
        "request_headers": _headers(ex.request_headers),
        "request_body": request_body,
        "status": ex.status,
        "response_headers": _headers(ex.response_headers),
        "response_body": response_body,
        "started": ex.started,
        "elapsed_ms": ex.elapsed_ms,
        "error": error,
        "instance_id": ex.instance_id,
        "step_id": ex.step_id,
        "match": ex.match,
        "kind": ex.kind,
        "findings": _masked_findings(ex.findings),
        "validated": ex.validated,
    }


def _exchange(row: Any) -> RecordedExchange:
    values = dict(row)
    values["request_body"] = bytes(values["request_body"])
    values["response_body"] = bytes(values["response_body"])
    values["request_headers"] = dict(values["request_headers"])
    values["response_headers"] = dict(values["response_headers"])
    values["findings"] = list(values["findings"])
    return RecordedExchange(**values)
