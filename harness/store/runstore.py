"""RunStore: record runs case by case (each case one transaction) and read them back.

SQLite in WAL mode by default; PostgreSQL with a `postgresql://` URL. A run killed at any
moment keeps every test case committed before the kill, so `kcert resume` can go on.
Schema set-up, busy retries and timeouts: harness.store.connection.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from harness.model.answer import ManualAnswer
from harness.model.result import CaseResult, RunResult
from harness.store import tables as t
from harness.store.codec import (
    StoredCase,
    answer_from_row,
    exchange_row,
    finding_row,
    step_rows,
)
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

STORE_ENV = "KCERT_STORE"
STORE_FILE = "kcert-runs.sqlite"
# any constant: the PostgreSQL advisory lock that serialises schema set-up between kcerts
SCHEMA_LOCK = 0x6B63657274


class StoreError(RuntimeError):
    """The store cannot be opened or does not hold what was asked for."""


def default_url(reports_dir: Path) -> str:
    return os.environ.get(STORE_ENV) or f"sqlite:///{(reports_dir / STORE_FILE).resolve()}"


def engine_url(url: str) -> str:
    """`postgresql://` means psycopg 3 (the driver kcert installs), not psycopg2."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def display_url(url: str) -> str:
    """The URL without a password, for messages and reports."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL is reported as given, minus nothing secret
        return url.split("@")[-1]


@dataclass(frozen=True)
class RunRow:
    run_id: str
    status: str
    created: float
    started: str
    finished: str
    verdict: str
    test_type: str
    tester: str
    lang: str
    place: str
    suite_version: str
    sut_name: str
    sut_version: str
    sut: dict[str, Any]
    choice: dict[str, Any]
    protocols: list[dict[str, Any]]
    packs: list[dict[str, Any]]
    parent_run: str
    relation: str
    run_dir: str
    error: str


class RunStore:
    """`timeout`: seconds one store operation may take (default KCERT_STORE_TIMEOUT or 15)."""

    def __init__(self, url: str, timeout: float | None = None) -> None:
        self.url = url
        try:
            self.timeout = store_timeout(timeout)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        try:
            self.engine: Engine = make_engine(engine_url(url), self.timeout)
            retrying(self._set_up, lambda e: is_busy(e) or is_schema_race(e))
        except SQLAlchemyError as exc:
            raise StoreError(
                f"run store {display_url(url)}: {_reason(exc, self.timeout)}"
            ) from None
        except StoreTimeout as exc:
            raise StoreError(f"run store {display_url(url)}: {exc}") from None
        except OSError as exc:
            raise StoreError(f"run store {display_url(url)}: {exc.strerror}") from None

    def _set_up(self) -> None:
        """Tables, schema version and added columns in one exclusive transaction: kcerts
        opening a new store at the same moment take turns instead of racing."""
        with bounded(self.engine, self.timeout, write=True) as conn:
            if not is_sqlite(self.engine):
                conn.execute(select(text(f"pg_advisory_xact_lock({SCHEMA_LOCK})")))
            t.metadata.create_all(conn)
            self._check_version(conn)
            self._add_columns(conn)

    def _check_version(self, conn: Connection) -> None:
        found = conn.execute(
            select(t.store_info.c.value).where(t.store_info.c.key == "schema")
        ).scalar()
        if found is None:
            conn.execute(insert(t.store_info).values(key="schema", value=str(t.SCHEMA_VERSION)))
        elif found != str(t.SCHEMA_VERSION):
            raise StoreError(
                f"run store {display_url(self.url)} has schema {found}; "
                f"this kcert reads schema {t.SCHEMA_VERSION}"
            )

    @staticmethod
    def _add_columns(conn: Connection) -> None:
        """Columns newer than the store: added with their default (older rows get it)."""
        found = inspect(conn)
        for table, column, sql in t.ADDED_COLUMNS:
            if column not in {c["name"] for c in found.get_columns(table)}:
                conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql}"))

    def close(self) -> None:
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------------

    def begin_run(
        self, run: RunResult, choice: dict[str, Any], protocols: list[dict[str, Any]]
    ) -> None:
        values = _run_values(run)
        values.update(status="running", choice=choice, protocols=protocols, created=time.time())
        try:
            self._write(lambda conn: conn.execute(insert(t.runs).values(**values)))
        except _Duplicate:
            raise StoreError(
                f"run store {display_url(self.url)} already holds a run {run.run_id}; "
                "start the run again (it gets a new id)"
            ) from None

    def record_case(self, run_id: str, seq: int, case: CaseResult, protocol_version: str) -> None:
        """One transaction per test case: it is either wholly recorded or not at all."""

        def write(conn: Any) -> None:
            earlier = conn.execute(
                select(t.case_results.c.seq).where(
                    t.case_results.c.run_id == run_id,
                    t.case_results.c.protocol_id == case.protocol_id,
                    t.case_results.c.case_id == case.case.id,
                )
            ).scalar()
            _delete_case(conn, run_id, case.protocol_id, case.case.id)
            conn.execute(
                insert(t.case_results).values(
                    run_id=run_id,
                    seq=seq if earlier is None else earlier,  # an answered case keeps its place
                    protocol_id=case.protocol_id,
                    protocol_version=protocol_version,
                    case_id=case.case.id,
                    outcome=case.outcome.value,
                    assessment=case.assessment.value,
                    blocking=case.blocking,
                    started=case.started,
                    duration_ms=case.duration_ms,
                    error=case.error,
                    steps=step_rows(case),
                    not_in_scope=case.not_in_scope,
                )
            )
            key = {"run_id": run_id, "protocol_id": case.protocol_id, "case_id": case.case.id}
            finding_values = [
                {**key, "step_id": s.step.id, "seq": i, **finding_row(f)}
                for s in case.steps
                for i, f in enumerate(s.findings)
            ]
            if finding_values:
                conn.execute(insert(t.findings), finding_values)
            exchange_values = [
                {**key, "step_id": s.step.id, "seq": i, **exchange_row(e)}
                for s in case.steps
                for i, e in enumerate(s.exchanges)
            ]
            if exchange_values:
                conn.execute(insert(t.exchanges), exchange_values)
            for s in case.steps:
                if s.answer is not None:
                    _insert_answer(conn, run_id, s.answer)

        self._write(write)

    def save_answers(self, run_id: str, answers: list[ManualAnswer]) -> None:
        """Answers given before their steps ran (an answers file): kept for a resume."""

        def write(conn: Any) -> None:
            for answer in answers:
                conn.execute(
                    delete(t.manual_answers).where(
                        t.manual_answers.c.run_id == run_id,
                        t.manual_answers.c.case_id == answer.case_id,
                        t.manual_answers.c.step_id == answer.step_id,
                    )
                )
                _insert_answer(conn, run_id, answer)

        self._write(write)

    def finish_run(self, run: RunResult, run_dir: Path | None) -> None:
        values = _run_values(run)
        del values["run_id"]
        values["status"] = "finished"
        if run_dir is not None:
            values["run_dir"] = str(run_dir.resolve())
        self._write(
            lambda conn: conn.execute(
                update(t.runs).where(t.runs.c.run_id == run.run_id).values(**values)
            )
        )

    def _write(self, work: Any) -> None:
        """`work` in one write transaction; a busy SQLite store is tried again (bounded)."""

        def attempt() -> None:
            with bounded(self.engine, self.timeout, write=True) as conn:
                work(conn)

        try:
            retrying(attempt, is_busy)
        except IntegrityError as exc:
            raise _Duplicate(_reason(exc)) from None
        except SQLAlchemyError as exc:
            raise StoreError(
                f"run store {display_url(self.url)}: {_reason(exc, self.timeout)}"
            ) from None
        except StoreTimeout as exc:
            raise StoreError(f"run store {display_url(self.url)}: {exc}") from None

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction, bounded like a write; its failures are a StoreError."""
        try:
            with bounded(self.engine, self.timeout, write=False) as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(
                f"run store {display_url(self.url)}: {_reason(exc, self.timeout)}"
            ) from None
        except StoreTimeout as exc:
            raise StoreError(f"run store {display_url(self.url)}: {exc}") from None

    # -- reading ---------------------------------------------------------------------------

    def runs(self, limit: int = 1000) -> list[RunRow]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.runs)
                .order_by(t.runs.c.started.desc(), t.runs.c.run_id.desc())
                .limit(limit)
            ).mappings()
            return [RunRow(**dict(r)) for r in rows]

    def run(self, run_id: str) -> RunRow:
        with self._read() as conn:
            row = conn.execute(select(t.runs).where(t.runs.c.run_id == run_id)).mappings().first()
        if row is None:
            raise StoreError(f"no run {run_id} in the run store {display_url(self.url)}")
        return RunRow(**dict(row))

    def resolve(self, ref: str) -> str:
        """A run id from an id, a unique prefix, a run folder, or `latest`."""
        ref = ref.rstrip("/")
        path = Path(ref)
        if path.is_dir():
            ref = path.resolve().name
        with self._read() as conn:
            if ref == "latest":
                found = conn.execute(
                    select(t.runs.c.run_id).order_by(t.runs.c.created.desc()).limit(1)
                ).scalar()
                if found is None:
                    raise StoreError(f"the run store {display_url(self.url)} holds no runs")
                return str(found)
            ids = [
                str(r)
                for r in conn.execute(
                    select(t.runs.c.run_id).where(t.runs.c.run_id.startswith(ref, autoescape=True))
                ).scalars()
            ]
        if ref in ids:
            return ref
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise StoreError(f"no run {ref!r} in the run store {display_url(self.url)}")
        raise StoreError(f"{ref!r} matches {len(ids)} runs: {', '.join(sorted(ids)[:5])} …")

    def cases(self, run_id: str) -> list[StoredCase]:
        """The recorded test cases of a run, in the order they ran."""
        with self._read() as conn:
            where = t.case_results.c.run_id == run_id
            rows = list(
                conn.execute(
                    select(t.case_results).where(where).order_by(t.case_results.c.seq)
                ).mappings()
            )
            stored = {
                (r["protocol_id"], r["case_id"]): StoredCase(
                    r["protocol_id"],
                    r["case_id"],
                    r["started"],
                    r["duration_ms"],
                    r["error"],
                    list(r["steps"]),
                    not_in_scope=r["not_in_scope"],
                )
                for r in rows
            }
            for f in conn.execute(
                select(t.findings).where(t.findings.c.run_id == run_id).order_by(t.findings.c.seq)
            ).mappings():
                case = stored.get((f["protocol_id"], f["case_id"]))
                if case is not None:
                    case.findings.setdefault(f["step_id"], []).append(dict(f))
            for e in conn.execute(
                select(t.exchanges)
                .where(t.exchanges.c.run_id == run_id)
                .order_by(t.exchanges.c.seq)
            ).mappings():
                case = stored.get((e["protocol_id"], e["case_id"]))
                if case is not None:
                    case.exchanges.setdefault(e["step_id"], []).append(dict(e))
            for answer in self._answers(conn, run_id):
                case = stored.get((answer.protocol_id, answer.case_id))
                if case is not None:
                    case.answers[answer.step_id] = answer
        return list(stored.values())

    def answers(self, run_id: str) -> list[ManualAnswer]:
        with self._read() as conn:
            return self._answers(conn, run_id)

    @staticmethod
    def _answers(conn: Any, run_id: str) -> list[ManualAnswer]:
        rows = list(
            conn.execute(
                select(t.manual_answers).where(t.manual_answers.c.run_id == run_id)
            ).mappings()
        )
        result = []
        for row in rows:
            files = list(
                conn.execute(
                    select(t.attachments)
                    .where(t.attachments.c.answer_id == row["id"])
                    .order_by(t.attachments.c.id)
                ).mappings()
            )
            result.append(answer_from_row(dict(row), [dict(f) for f in files]))
        return result

    def case_summaries(self, run_id: str) -> list[dict[str, Any]]:
        """Per case: outcome, assessment, and its findings (rule, severity, place): for diffs."""
        out: dict[tuple[str, str], dict[str, Any]] = {}
        with self._read() as conn:
            for r in conn.execute(
                select(t.case_results)
                .where(t.case_results.c.run_id == run_id)
                .order_by(t.case_results.c.seq)
            ).mappings():
                out[(r["protocol_id"], r["case_id"])] = {
                    "protocol_id": r["protocol_id"],
                    "protocol_version": r["protocol_version"],
                    "case_id": r["case_id"],
                    "outcome": r["outcome"],
                    "assessment": r["assessment"],
                    "blocking": r["blocking"],
                    "error": r["error"],
                    "not_in_scope": r["not_in_scope"],
                    "findings": [],
                }
            for f in conn.execute(
                select(t.findings).where(t.findings.c.run_id == run_id).order_by(t.findings.c.id)
            ).mappings():
                case = out.get((f["protocol_id"], f["case_id"]))
                if case is not None:
                    case["findings"].append(
                        {
                            "step": f["step_id"],
                            "rule_id": f["rule_id"],
                            "severity": f["severity"],
                            "message": f["message"],
                            "path": (f["location"] or {}).get("path", ""),
                        }
                    )
        return list(out.values())


def _run_values(run: RunResult) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "started": run.started,
        "finished": run.finished,
        "verdict": run.verdict.value if run.finished else "",
        "test_type": run.test_type,
        "tester": run.tester,
        "lang": run.lang,
        "place": run.place,
        "suite_version": run.suite_version,
        "sut_name": run.sut.name,
        "sut_version": run.sut.version,
        "sut": {**run.sut.to_dict(), "scope": run.scope.to_dict()},
        "packs": list(run.packs),
        "parent_run": run.parent_run,
        "relation": run.relation,
        "error": run.error,
    }


def _delete_case(conn: Any, run_id: str, protocol_id: str, case_id: str) -> None:
    for table in (t.findings, t.exchanges, t.case_results):
        conn.execute(
            delete(table).where(
                table.c.run_id == run_id,
                table.c.protocol_id == protocol_id,
                table.c.case_id == case_id,
            )
        )
    answer_ids = select(t.manual_answers.c.id).where(
        t.manual_answers.c.run_id == run_id, t.manual_answers.c.case_id == case_id
    )
    conn.execute(delete(t.attachments).where(t.attachments.c.answer_id.in_(answer_ids)))
    conn.execute(
        delete(t.manual_answers).where(
            t.manual_answers.c.run_id == run_id, t.manual_answers.c.case_id == case_id
        )
    )


def _insert_answer(conn: Any, run_id: str, answer: ManualAnswer) -> None:
    answer_id = conn.execute(
        insert(t.manual_answers)
        .values(
            run_id=run_id,
            protocol_id=answer.protocol_id,
            case_id=answer.case_id,
            step_id=answer.step_id,
            verdict=answer.verdict,
            note=answer.note,
            tester=answer.tester,
            answered_at=answer.answered_at,
        )
        .returning(t.manual_answers.c.id)
    ).scalar_one()
    for a in answer.attachments:
        conn.execute(
            insert(t.attachments).values(
                answer_id=answer_id, name=a.name, sha256=a.sha256, data=a.data
            )
        )


class _Duplicate(StoreError):
    """A row the store already holds (an integrity error)."""


def _reason(exc: SQLAlchemyError, timeout: float | None = None) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = text[0] if text else type(exc).__name__
    if timeout is not None and "timeout expired" in reason:
        reason += f" after {timeout:g} s (server stalled or unreachable? KCERT_STORE_TIMEOUT)"
    return reason
