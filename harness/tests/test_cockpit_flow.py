"""Cockpit flows end to end: contract fuzzing can fail, and the manual variant with CSV exports."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from harness.checks import CHECKS
from harness.model.outcome import Outcome, Verdict
from harness.model.protocol import Protocol
from harness.oracle.engine import evaluate
from harness.oracle.rulepack import load_rulepack
from harness.population.generator import generate
from harness.population.reader import read_population
from harness.reflps.app import create_app
from harness.runner.actions import ActionContext
from harness.runner.contract_fuzz import contract_fuzz
from harness.runner.engine import Runner, RunOptions
from harness.sut.reference import reference_config
from harness.tests.test_checks import ctx_for
from harness.transport.inprocess import InProcessTransport


def test_contract_fuzz_catches_a_server_error() -> None:
    broken = FastAPI()

    @broken.get("/kcert-agent/v1/profiles")
    def profiles() -> JSONResponse:
        return JSONResponse({"boom": True}, status_code=500)

    config = reference_config("http://reference.invalid", (), "inprocess")
    actx = ActionContext(InProcessTransport(config, broken), config, None, {}, {}, {})  # type: ignore[arg-type]
    done = contract_fuzz(actx, operations=["GET /kcert-agent/v1/profiles"], max_examples=3)
    failures = done.notes["fuzz_failures"]
    assert failures and failures[0]["status"] == "500" and "curl" in failures[0]["curl"]
    context = ctx_for(None, b"{}")
    context.notes = done.notes
    assert [f.rule_id for f in CHECKS.get("contract-conforms").func(context)] == ["CONTRACT-FUZZ"]
    context.notes = {"fuzz_failures": []}
    assert list(CHECKS.get("contract-conforms").func(context)) == []


def _case(protocols: list[Protocol], case_id: str) -> list[Protocol]:
    protocol = next(p for p in protocols if p.id == "cockpit-profiles")
    return [
        dataclasses.replace(protocol, cases=tuple(c for c in protocol.cases if c.id == case_id))
    ]


def _manual_run(protocols: list[Protocol], exports: Path) -> Any:
    config = dataclasses.replace(
        reference_config("http://reference.invalid", (), "inprocess"),
        manual_operations=("population-load", "cockpit-members"),
        exports_dir=str(exports),
    )
    transport = InProcessTransport(config, create_app())
    return Runner(transport, config).run(_case(protocols, "KC-P04"), RunOptions())


def test_manual_variant_hands_over_files_and_compares_the_export(
    protocols: list[Protocol], tmp_path: Path
) -> None:
    pending = _manual_run(protocols, tmp_path)
    assert pending.verdict is Verdict.AFVENTER
    assert pending.cases[0].outcome is Outcome.PENDING
    assert "kol-blodtryk-over-150_2027-03-01.csv" in pending.cases[0].steps[-1].message
    handover = tmp_path / "handover" / "population-2027-03-01.json"
    assert handover.is_file() and (tmp_path / "handover" / "population-2027-03-01.csv").is_file()

    population, _ = read_population(
        generate(
            2027, 400, dt.date(2027, 3, 1), "999991000016008", "Lægehuset Reference (kcert)"
        ).bundle
    )
    right = sorted(
        evaluate(load_rulepack(), population, dt.date(2027, 3, 1)).member_cprs(
            "kol-blodtryk-over-150"
        )
    )
    export = tmp_path / "kol-blodtryk-over-150_2027-03-01.csv"
    export.write_text("cpr,navn\n" + "".join(f"{c},x\n" for c in right), encoding="utf-8")
    passed = _manual_run(protocols, tmp_path)
    assert passed.verdict is Verdict.GODKENDT, [f.message for f in passed.cases[0].findings]

    export.write_text("cpr,navn\n" + "".join(f"{c},x\n" for c in right[1:]), encoding="utf-8")
    failed = _manual_run(protocols, tmp_path)
    assert failed.verdict is Verdict.IKKE_GODKENDT
    assert [f.rule_id for f in failed.cases[0].findings if f.is_problem] == ["COCKPIT-MISSING"]
