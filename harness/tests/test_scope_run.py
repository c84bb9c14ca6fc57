"""Scope by capability, end to end: an LPS that implements only CareCommunication, run on the
whole suite. Declared (configuration or health), it is Godkendt for that scope and every other
case is Ikke omfattet; undeclared, what it lacks are findings (Ikke godkendt), never Fejl."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.cli.main import main
from harness.fixtures import REPO_ROOT
from harness.store.history import approved_systems
from harness.store.runstore import RunStore
from harness.sut.config import SutConfig
from harness.sut.reference import running_reference

pytestmark = pytest.mark.slow
pytest_plugins = ["pytester"]

ANSWERS = str(REPO_ROOT / "fixtures" / "answers" / "reference-lps.yaml")
CC_PROTOCOLS = {"carecommunication-receive", "carecommunication-send"}
CC_ONLY = {
    "standards": [{"standard": "CareCommunication", "directions": ["send", "receive"]}],
    "operations": [
        "reset",
        "processMessage",
        "listReceivedMessages",
        "sendMessage",
        "readOutbox",
        "fireResendTimer",
    ],
}


@pytest.fixture(scope="module")
def cc_only_lps() -> Iterator[SutConfig]:
    """The reference LPS with every route but CareCommunication's switched off, on 127.0.0.1."""
    with running_reference(only="carecommunication") as config:
        yield config


@pytest.fixture(scope="module")
def cc_only_declaring_lps() -> Iterator[SutConfig]:
    """The same, but its health answer declares its capabilities itself."""
    with running_reference(only="carecommunication", declare=True) as config:
        yield config


def sut_file(tmp: Path, config: SutConfig, capabilities: dict[str, Any] | None) -> Path:
    data: dict[str, Any] = {
        "name": "CareCommunication-only LPS",
        "vendor": "kcert tests",
        "version": "1.0",
        "endpoints": dict(config.endpoints),
        "identity": {"sor": config.sor, "gln": config.gln, "name": config.org_name},
        "timeouts": {"read": 30},
    }
    if capabilities is not None:
        data["capabilities"] = capabilities
    path = tmp / "sut.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def certify(
    capsys: pytest.CaptureFixture[str], sut: Path, reports: Path, *extra: str
) -> tuple[int, str, dict[str, Any]]:
    code = main(["certify", "--sut-config", str(sut), "--reports", str(reports), *extra])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text
    results = json.loads((reports / "latest" / "results.json").read_text(encoding="utf-8"))
    return code, text, results


def cases(results: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {c["id"]: (p["id"], c) for p in results["protocols"] for c in p["cases"]}


def test_declared_scope_is_godkendt_and_the_rest_not_in_scope(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cc_only_lps: SutConfig
) -> None:
    sut = sut_file(tmp_path, cc_only_lps, CC_ONLY)
    code, out, results = certify(capsys, sut, tmp_path / "r", "--answers", ANSWERS)
    assert code == 0, out
    assert results["verdict"] == "godkendt"
    by_id = cases(results)
    inside = {cid for cid, (pid, _) in by_id.items() if pid in CC_PROTOCOLS}
    assert inside and all(by_id[c][1]["outcome"] == "pass" for c in inside)
    outside = {cid: c for cid, (pid, c) in by_id.items() if pid not in CC_PROTOCOLS}
    assert outside, "the whole suite has more than CareCommunication"
    for cid, case in outside.items():
        assert case["outcome"] == "not-in-scope", cid
        assert "does not declare" in case["not_in_scope"] and case["steps"] == []
    assert results["summary"]["not-in-scope"] == len(outside)
    assert results["summary"]["error"] == 0 and results["summary"]["fail"] == 0
    assert results["scope"]["declared"] and results["scope"]["capabilities"]["source"] == (
        "sut-config"
    )
    assert "CareCommunication (afsendelse, modtagelse)" in results["scope"]["text"]
    assert "Ikke omfattet CP-01" in out and f"{len(outside)} ikke omfattet" in out
    html = (tmp_path / "r" / "latest" / "index.html").read_text(encoding="utf-8")
    assert "Omfang" in html and "CareCommunication (afsendelse, modtagelse)" in html
    assert "Ikke omfattet: SUT har ikke erklæret standarden Cockpit" in html
    junit = (tmp_path / "r" / "latest" / "junit.xml").read_text(encoding="utf-8")
    assert "not in scope: the SUT does not declare the standard DK-CPD" in junit
    manifest = json.loads((tmp_path / "r" / "latest" / "manifest.json").read_text())
    assert manifest["scope"]["capabilities"]["standards"][0]["standard"] == "CareCommunication"


def test_unattended_declared_scope_awaits_the_tester(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cc_only_lps: SutConfig
) -> None:
    sut = sut_file(tmp_path, cc_only_lps, CC_ONLY)
    code, out, results = certify(capsys, sut, tmp_path / "r", "--case", "CC-*,KC-00")
    assert code == 3, out  # CC-R-13 is attended
    assert results["verdict"] == "afventer"
    assert cases(results)["KC-00"][1]["outcome"] == "not-in-scope"
    assert results["scope"]["selection"] == ["--case CC-*", "--case KC-00"]


def test_health_answer_declares_the_scope(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cc_only_declaring_lps: SutConfig
) -> None:
    sut = sut_file(tmp_path, cc_only_declaring_lps, None)
    code, out, results = certify(capsys, sut, tmp_path / "r", "--answers", ANSWERS)
    assert code == 0, out
    assert results["scope"]["capabilities"]["source"] == "agent-health"
    assert cases(results)["CP-01"][1]["outcome"] == "not-in-scope"
    assert cases(results)["CC-S-01"][1]["outcome"] == "pass"


def test_scope_narrower_than_the_standard_leaves_out_cases_needing_more(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cc_only_lps: SutConfig
) -> None:
    # receives CareCommunication, but cannot be made to send: the send protocol is out of scope
    receive_only = {
        "standards": [{"standard": "CareCommunication", "directions": ["receive"]}],
        "operations": ["reset", "processMessage", "listReceivedMessages"],
    }
    sut = sut_file(tmp_path, cc_only_lps, receive_only)
    code, out, results = certify(
        capsys, sut, tmp_path / "r", "--answers", ANSWERS, "--requirement", "MVP2-MC-01"
    )
    assert code == 0, out
    by_id = cases(results)
    assert by_id["CC-S-01"][1]["outcome"] == "not-in-scope"
    assert "not the direction send" in by_id["CC-S-01"][1]["not_in_scope"]
    assert by_id["CC-R-01"][1]["outcome"] == "pass"
    assert "CP-01" in by_id and by_id["CP-01"][1]["outcome"] == "not-in-scope"
    assert "KC-P01" not in by_id  # not proving MVP2-MC-01: not selected at all


def test_undeclared_scope_makes_the_missing_operations_findings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cc_only_lps: SutConfig
) -> None:
    sut = sut_file(tmp_path, cc_only_lps, None)
    code, out, results = certify(capsys, sut, tmp_path / "r", "--answers", ANSWERS)
    by_id = cases(results)
    assert not any(c["outcome"] == "not-in-scope" for _, c in by_id.values())
    assert by_id["CC-R-01"][1]["outcome"] == "pass"  # what it implements still passes
    errored = [cid for cid, (_, c) in by_id.items() if c["outcome"] == "error"]
    if errored:
        pytest.xfail(
            "needs i11-faults: a 404 on a claimed operation is still an error in "
            + ", ".join(errored[:5])
        )
    assert code == 1, out
    assert results["verdict"] == "ikke-godkendt"
    failed = {cid for cid, (pid, c) in by_id.items() if c["outcome"] == "fail"}
    assert failed >= {cid for cid, (pid, _) in by_id.items() if pid not in CC_PROTOCOLS}
    texts = " ".join(
        f["message"]
        for _, c in by_id.values()
        for s in c["steps"]
        for f in s["findings"]
        if f["severity"] != "OK"
    )
    assert "404" in texts


def test_resume_and_rejudge_keep_the_selection_and_the_scope(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, cc_only_lps: SutConfig
) -> None:
    import sqlite3

    sut = sut_file(tmp_path, cc_only_lps, CC_ONLY)
    reports = tmp_path / "r"
    code, out, first = certify(capsys, sut, reports, "--case", "CC-R-0[1-3]", "--case", "KC-00")
    assert code == 0, out
    chosen = ["CC-R-01", "CC-R-02", "CC-R-03", "KC-00"]
    assert sorted(cases(first)) == chosen
    with sqlite3.connect(reports / "kcert-runs.sqlite") as conn:
        conn.execute("UPDATE runs SET status = 'running'")
        conn.execute("DELETE FROM case_results WHERE case_id = 'CC-R-03'")
    assert main(["resume", "latest", "--reports", str(reports)]) == 0
    out = capsys.readouterr().out
    assert "3 af 4 testcases er allerede registreret" in out
    resumed = json.loads((reports / "latest" / "results.json").read_text(encoding="utf-8"))
    assert sorted(cases(resumed)) == chosen
    assert cases(resumed)["CC-R-03"][1]["outcome"] == "pass"
    assert main(["rejudge", "latest", "--reports", str(reports)]) == 0
    out = capsys.readouterr().out
    assert "samme resultat som" in out
    again = json.loads((reports / "latest" / "results.json").read_text(encoding="utf-8"))
    assert again["relation"] == "rejudge" and sorted(cases(again)) == chosen
    assert cases(again)["KC-00"][1]["outcome"] == "not-in-scope"
    assert again["scope"]["capabilities"]["source"] == "sut-config"
    assert main(["runs", "show", "latest", "--reports", str(reports)]) == 0
    assert "CareCommunication (afsendelse, modtagelse)" in capsys.readouterr().out


def test_pytest_front_door_skips_what_is_not_in_scope(
    pytester: pytest.Pytester, tmp_path: Path, cc_only_lps: SutConfig
) -> None:
    for name in ("carecommunication-send", "careplan-sharing"):
        text = (REPO_ROOT / "testcases" / f"{name}.yaml").read_text(encoding="utf-8")
        pytester.makefile(".yaml", **{name: text})
    sut = sut_file(tmp_path, cc_only_lps, CC_ONLY)
    report = pytester.path / "out"
    result = pytester.runpytest("--sut-config", str(sut), "--kcert-report", str(report), "-rs")
    result.assert_outcomes(passed=3, skipped=4)
    result.stdout.fnmatch_lines(
        ["*CP-01 not in scope: the SUT does not declare the standard DK-CPD*"]
    )
    data = json.loads((report / "latest" / "results.json").read_text(encoding="utf-8"))
    assert data["verdict"] == "godkendt" and data["summary"]["not-in-scope"] == 4


def test_final_certification_of_a_scope_in_the_approved_systems_view(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    cc_only_lps: SutConfig,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.suite import SuiteVersion

    monkeypatch.setattr(
        "harness.cli.certify.suite_version", lambda: SuiteVersion("0.1.0", "0123456789ab", ())
    )
    sut = sut_file(tmp_path, cc_only_lps, CC_ONLY)
    reports = tmp_path / "r"
    final = ("--test-type", "endelig", "--tester", "Tove Tester", "--no-packs")
    code, out, results = certify(capsys, sut, reports, "--answers", ANSWERS, *final)
    assert code == 0, out
    assert results["test_type"] == "endelig" and results["operator"] == "Tove Tester"
    html = (reports / "latest" / "index.html").read_text(encoding="utf-8")
    front = html[: html.index("</table>")]  # the header table on the front page
    assert "Omfang" in front and "CareCommunication (afsendelse, modtagelse)" in front
    view = tmp_path / "systems.html"
    assert main(["runs", "systems", "--reports", str(reports), "--html", str(view)]) == 0
    shown = view.read_text(encoding="utf-8")
    assert "Godkendt" in shown and "Ikke omfattet" in shown
    store = RunStore(f"sqlite:///{reports / 'kcert-runs.sqlite'}")
    try:
        rows = {(s.standard, s.direction): s.status for s in approved_systems(store)}
    finally:
        store.close()
    assert rows == {
        ("CareCommunication", "receive"): "godkendt",
        ("CareCommunication", "send"): "godkendt",
        ("DK-CPD", "send"): "ikke-omfattet",
        ("Cockpit", ""): "ikke-omfattet",
        ("DK-QRD", "receive"): "ikke-omfattet",
        ("REF01", "send"): "ikke-omfattet",
    } | {key: "ikke-omfattet" for key in _standards_beyond(SHOWN)}


# the protocols the approved-systems expectation above names; a standard added later is
# outside the CareCommunication-only scope as well
SHOWN = {"CareCommunication", "DK-CPD", "Cockpit", "DK-QRD", "REF01"}


def _standards_beyond(known: set[str]) -> set[tuple[str, str]]:
    from harness.loader.protocols import discover, load_all

    loaded, errors = load_all(discover(REPO_ROOT / "testcases"))
    assert not errors, errors
    return {
        (p.needs.standard, p.needs.direction or "") for p in loaded if p.needs.standard not in known
    }
