"""A judged load run as a kcert run: recorded in the run store through the run path, its
report with the SLO table and the plots (HTML and PDF), its artifacts in results.json, the
evidence folder and the manifest."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import jsonschema
import pytest

from harness.load.model import PreflightCheck, Slo, Stopped
from harness.load.runrecord import build_run, record
from harness.load.slo import judge
from harness.load.stats import LoadStats, read_stats
from harness.model.outcome import Outcome, Verdict
from harness.model.result import RunResult
from harness.report.html import render_html
from harness.session import runpath
from harness.tests.load_verdict_data import SAMPLE, rates, result

SCHEMA = Path(__file__).resolve().parent.parent / "report" / "results.schema.json"


def judged(tmp_path: Path, lang: str = "da", **changes: object) -> tuple[RunResult, object]:
    r = result(tmp_path, **changes)
    stats = LoadStats.empty() if any(not c.ok for c in r.preflight) else read_stats(SAMPLE)
    return build_run(r, stats, judge(r, stats, rates()), rates(), lang=lang, tester="t"), r


def recorded(tmp_path: Path, run: RunResult, r: object, pdf: bool = False) -> Path:
    reports = tmp_path / "reports"
    store = runpath.open_store(None, reports)
    try:
        return record(run, r, runpath.Reporting(reports, pdf=pdf), store)  # type: ignore[arg-type]
    finally:
        store.close()


def test_a_run_within_its_slos_is_godkendt(tmp_path: Path) -> None:
    run, _ = judged(tmp_path)
    assert run.verdict is Verdict.GODKENDT
    (case,) = run.cases
    assert case.case.id == "LOAD-PEAK" and run.protocols[0].protocol.id == "load-demo"
    assert [s.step.id for s in case.steps] == ["1", "2", "3", "4", "5"]
    assert [s.step.testdata for s in case.steps[2:]] == [
        "cockpit-list",
        "plan-create",
        "plan-read-minlaege",
    ]
    assert run.sut.endpoints == {"base_url": "http://127.0.0.1:18765"}


def test_a_failed_slo_is_ikke_godkendt_with_a_finding_naming_the_operation(tmp_path: Path) -> None:
    run, _ = judged(tmp_path, lang="en", slo_changes={"plan-create": Slo("plan-create", p95_ms=10)})
    assert run.verdict is Verdict.IKKE_GODKENDT
    step = run.cases[0].steps[3]
    assert step.outcome is Outcome.FAIL
    (finding,) = step.findings
    assert finding.rule_id == "LOAD-P95" and finding.message.startswith(
        "plan-create: p95 12 ms > SLO 10 ms"
    )


def test_a_partial_run_is_fejl_not_godkendt(tmp_path: Path) -> None:
    run, _ = judged(tmp_path, stopped=Stopped.SIGNAL)
    assert run.verdict is Verdict.FEJL
    assert run.cases[0].steps[1].message.startswith("Delvis kørsel")


def test_a_failed_preflight_skips_the_load(tmp_path: Path) -> None:
    bad = PreflightCheck(
        "plan-create", False, "POST", "http://127.0.0.1:1/flp/v1/plans", 400, "no CPR"
    )
    run, _ = judged(tmp_path, preflight=(bad,))
    assert run.verdict is Verdict.IKKE_GODKENDT
    steps = run.cases[0].steps
    assert steps[0].outcome is Outcome.FAIL and {s.outcome for s in steps[1:]} == {Outcome.SKIP}
    assert not steps[1].artifacts


def test_recorded_in_the_store_and_reported_with_its_artifacts(tmp_path: Path) -> None:
    run, r = judged(
        tmp_path, slo_changes={"cockpit-list": Slo("cockpit-list", max_error_rate=0.01)}
    )
    run_dir = recorded(tmp_path, run, r)
    store = runpath.open_store(None, tmp_path / "reports")
    try:
        row = store.run(run.run_id)
        assert (row.status, row.verdict) == ("finished", "ikke-godkendt")
        assert [s["outcome"] for s in store.case_summaries(run.run_id)] == ["fail"]
    finally:
        store.close()
    results = json.loads((run_dir / "results.json").read_text())
    jsonschema.validate(results, json.loads(SCHEMA.read_text()))
    load = results["protocols"][0]["cases"][0]["steps"][1]
    names = [a["name"] for a in load["artifacts"]]
    assert names[:2] == ["slo.json", "latency.svg"] and "users.svg" in names
    assert {"peak_stats.csv", "peak_stats_history.csv", "peak_failures.csv", "locust.log"} <= set(
        names
    )
    manifest = (run_dir / "manifest.sha256").read_text()
    for a in load["artifacts"]:
        data = (run_dir / a["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == a["sha256"]
        assert f"{a['sha256']}  {a['file']}" in manifest
    html = (run_dir / "index.html").read_text()
    assert '<img src="evidence/artifacts/LOAD-PEAK.2/latency.svg"' in html
    assert '<table class="slo">' in html and "100.00%" in html and "1.00%" in html
    assert 'href="evidence/artifacts/LOAD-PEAK.2/peak_stats.csv"' in html
    assert "tjenesten svarede: »HTTP 503: cockpit query timed out« (96×)" in html


def test_a_report_without_artifacts_is_unchanged(clean_run: RunResult) -> None:
    html = render_html(clean_run, "da")
    assert '<table class="slo">' not in html and "<figure" not in html


def test_slo_table_and_figures_in_english(tmp_path: Path) -> None:
    run, _ = judged(tmp_path, lang="en")
    html = render_html(run, "en")
    assert "<th>Measured</th><th>Allowed</th>" in html
    assert "<figcaption>Latency over time, all operations</figcaption>" in html


@pytest.mark.slow
def test_the_pdf_has_the_plots(tmp_path: Path) -> None:
    pdfplumber = pytest.importorskip("pdfplumber")
    run, r = judged(tmp_path, lang="en")
    run_dir = recorded(tmp_path, run, r, pdf=True)
    with pdfplumber.open(run_dir / "report.pdf") as pdf:
        text = "\n".join(page.extract_text() or "" for page in pdf.pages)
        drawn = sum(len(page.curves) + len(page.lines) for page in pdf.pages)
    # the SVGs are drawn as vectors: their titles are text, their lines are paths
    for title in (
        "Latency over time",
        "Throughput and errors over time",
        "Users and workers over time",
    ):
        assert title in text
    assert "Latency distribution per operation" in text
    assert drawn > 20


def test_a_load_run_is_not_rejudged_or_resumed(tmp_path: Path) -> None:
    run, r = judged(tmp_path)
    recorded(tmp_path, run, r)
    store = runpath.open_store(None, tmp_path / "reports")
    try:
        row = store.run(run.run_id)
        with pytest.raises(runpath.RunStateProblem, match="is a load run"):
            runpath.reload_protocols(row, same_files=False)
    finally:
        store.close()


def test_kcert_runs_list_shows_the_load_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.cli.main import main

    monkeypatch.setenv("COLUMNS", "250")
    run, r = judged(tmp_path)
    recorded(tmp_path, run, r)
    code = main(["runs", "list", "--reports", str(tmp_path / "reports")])
    out = capsys.readouterr().out
    assert code == 0 and run.run_id in out and "stub FLP" in out


def test_signed_load_run_verifies_and_a_changed_plot_does_not(tmp_path: Path) -> None:
    from harness.dossier.signing import generate_keys, load_public, verify

    private, public = generate_keys(tmp_path / "keys")
    run, r = judged(tmp_path)
    reports = tmp_path / "reports"
    store = runpath.open_store(None, reports)
    try:
        run_dir = record(run, r, runpath.Reporting(reports, sign_key=private), store)
    finally:
        store.close()
    assert verify(run_dir, load_public(public)).ok
    plot = run_dir / "evidence" / "artifacts" / "LOAD-PEAK.2" / "latency.svg"
    plot.write_bytes(plot.read_bytes().replace(b"p95", b"p96"))
    checked = verify(run_dir, load_public(public))
    assert not checked.ok and any("latency.svg" in line for line in checked.files)
