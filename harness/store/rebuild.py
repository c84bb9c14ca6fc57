"""A stored run read back as results: the run header and its recorded test cases, fitted to
the protocol files they were recorded with (resume, answer, rejudge)."""

from __future__ import annotations

from harness.model.exchange import Exchange
from harness.model.protocol import Protocol
from harness.model.result import CaseResult, ProtocolResult, RunResult, SutInfo
from harness.model.scope import Scope
from harness.store.codec import StoreMismatch, exchange_from_row, rebuild_case
from harness.store.runstore import RunRow, RunStore

CaseKey = tuple[str, str]  # (protocol id, test case id)


def rebuild_run(store: RunStore, row: RunRow, protocols: list[Protocol]) -> RunResult:
    """The run as recorded: header from the run row, cases in protocol order."""
    run = RunResult(
        run_id=row.run_id,
        sut=SutInfo.from_dict(row.sut),
        test_type=row.test_type,
        tester=row.tester,
        started=row.started,
        finished=row.finished,
        error=row.error,
        suite_version=row.suite_version,
        lang=row.lang,
        place=row.place,
        packs=list(row.packs),
        parent_run=row.parent_run,
        relation=row.relation,
        scope=Scope.from_dict(row.sut.get("scope")),
    )
    done = recorded_cases(store, row.run_id, protocols)
    for protocol in protocols:
        presult = ProtocolResult(protocol)
        presult.cases = [
            done[(protocol.id, c.id)] for c in protocol.cases if (protocol.id, c.id) in done
        ]
        if presult.cases:
            run.protocols.append(presult)
    return run


def recorded_cases(
    store: RunStore, run_id: str, protocols: list[Protocol]
) -> dict[CaseKey, CaseResult]:
    """Every recorded case of the run's protocols; StoreMismatch when one no longer fits."""
    by_id = {p.id: p for p in protocols}
    out: dict[CaseKey, CaseResult] = {}
    for stored in store.cases(run_id):
        protocol = by_id.get(stored.protocol_id)
        if protocol is None:
            continue  # a protocol no longer in scope
        try:
            out[(stored.protocol_id, stored.case_id)] = rebuild_case(stored, protocol)
        except StoreMismatch as exc:
            raise StoreMismatch(f"run {run_id}: {exc}") from None
    return out


def recorded_exchanges(
    store: RunStore, run_id: str
) -> tuple[dict[CaseKey, list[Exchange]], dict[CaseKey, str]]:
    """Per recorded case, its exchanges in the order they happened, and its start time:
    what a replay (rejudge) answers with and pins."""
    recorded: dict[CaseKey, list[Exchange]] = {}
    started: dict[CaseKey, str] = {}
    for case in store.cases(run_id):
        key = (case.protocol_id, case.case_id)
        started[key] = case.started
        recorded[key] = [
            exchange_from_row(e)
            for step in case.steps
            for e in case.exchanges.get(str(step["id"]), [])
        ]
    return recorded, started
