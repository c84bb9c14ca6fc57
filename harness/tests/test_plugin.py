"""The pytest front door (pytester): same engine, same results as `kcert certify`."""

from __future__ import annotations

import json

import pytest

from harness.fixtures import REPO_ROOT
from harness.model.result import RunResult
from harness.report.results_json import to_results

pytest_plugins = ["pytester"]

PROTOCOL = REPO_ROOT / "testcases" / "carecommunication-receive.yaml"
ANSWERS = str(REPO_ROOT / "fixtures" / "answers" / "reference-lps.yaml")


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makefile(".yaml", carecommunication=PROTOCOL.read_text(encoding="utf-8"))
    pytester.makefile(".yaml", unrelated="just: some yaml\n")
    return pytester


def outcomes(results: dict) -> dict[str, tuple[str, str]]:  # type: ignore[type-arg]
    return {
        c["id"]: (c["outcome"], c["assessment"]) for p in results["protocols"] for c in p["cases"]
    }


def test_clean_reference_passes_and_matches_cli_engine(
    suite: pytest.Pytester, clean_run: RunResult
) -> None:
    report_dir = suite.path / "out"
    result = suite.runpytest(
        "--sut",
        "reference",
        "--kcert-transport",
        "inprocess",
        "--kcert-report",
        str(report_dir),
        "--kcert-answers",
        ANSWERS,
    )
    result.assert_outcomes(passed=13)
    result.stdout.fnmatch_lines(["kcert: SUT reference LPS*", "kcert report: *index.html"])
    from_pytest = json.loads((report_dir / "latest" / "results.json").read_text())
    from_cli_engine = outcomes(to_results(clean_run))
    assert outcomes(from_pytest) == {k: from_cli_engine[k] for k in outcomes(from_pytest)}
    assert len(outcomes(from_pytest)) == 13
    assert from_pytest["verdict"] == "godkendt"


def test_unanswered_manual_step_is_skipped_in_pytest(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--sut", "reference", "--kcert-transport", "inprocess", "-rs")
    result.assert_outcomes(passed=12, skipped=1)
    result.stdout.fnmatch_lines(["*CC-R-13 pending: manual step(s) 2 await a tester*"])


def test_defect_fails_the_named_case(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "--sut",
        "reference",
        "--kcert-transport",
        "inprocess",
        "--defect",
        "server-error-on-garbage",
    )
    result.assert_outcomes(passed=11, failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*CC-R-08*assessment F3*", "*[[]F3[]] HTTP-5XX*"])
    assert "Traceback" not in result.stdout.str()


def test_broken_protocol_is_a_collection_error_with_file_line(suite: pytest.Pytester) -> None:
    text = PROTOCOL.read_text(encoding="utf-8").replace("- ack: {code: ok}", "- ack: {cod: ok}", 1)
    suite.makefile(".yaml", carecommunication=text)
    line = text.splitlines().index("          - ack: {cod: ok}") + 1
    result = suite.runpytest("--sut", "reference", "--kcert-transport", "inprocess")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        [f"*collection error: *carecommunication.yaml:{line}: *expect[[]0[]]*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_without_sut_nothing_is_collected(suite: pytest.Pytester) -> None:
    result = suite.runpytest()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_sut_options_are_checked(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--sut", "reference", "--defect", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown defect nope*"])


def test_a_missing_token_is_a_usage_error_before_any_sut_is_reached(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same validation as the CLI's (no transport built to find out): file, line, field."""
    monkeypatch.delenv("KCERT_PLUGIN_TOKEN", raising=False)
    suite.makefile(
        ".yml",
        sut=(
            "name: Vendor LPS\nvendor: V\nversion: '1'\n"
            "endpoints: {fhir: 'http://127.0.0.1:9/fhir', agent: 'http://127.0.0.1:9/a'}\n"
            "identity: {sor: '999991000016008', gln: '5790000999996'}\n"
            "auth:\n  type: bearer\n  token_env: KCERT_PLUGIN_TOKEN\n"
        ),
    )
    result = suite.runpytest("--sut-config", str(suite.path / "sut.yml"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*sut.yml:8: auth.token_env: *KCERT_PLUGIN_TOKEN is not set*"])
    monkeypatch.setenv("KCERT_PLUGIN_TOKEN", "t")
    result = suite.runpytest(
        "--sut-config", str(suite.path / "sut.yml"), "--kcert-transport", "inprocess"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--kcert-transport inprocess works only with --sut reference*"])


def test_requirement_markers_select_cases(suite: pytest.Pytester) -> None:
    result = suite.runpytest(
        "--sut", "reference", "--kcert-transport", "inprocess", "-k", "CC-R-10 or CC-R-12"
    )
    result.assert_outcomes(passed=2)


def test_pytest_over_real_http_gives_the_same_verdicts(suite: pytest.Pytester) -> None:
    """`pytest testcases/ --sut reference` starts the reference LPS on loopback, like the CLI."""
    result = suite.runpytest("--sut", "reference", "--defect", "xml-unsupported")
    result.assert_outcomes(passed=11, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*kcert: SUT reference LPS with defects xml-unsupported (http)*", "FAILED *CC-R-02*"]
    )


def test_missing_sut_config_is_a_usage_error(suite: pytest.Pytester) -> None:
    result = suite.runpytest("--sut-config", "nope.yaml")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nope.yaml:1: cannot read file*"])


def test_f4_findings_pass_in_pytest_as_in_the_verdict(suite: pytest.Pytester) -> None:
    text = PROTOCOL.read_text(encoding="utf-8").replace(
        "          - fhir-content-type: {format: json}\n",
        "          - fhir-content-type: {format: json}\n"
        "          - status: {equals: 201}\n            severity: F4\n",
        1,
    )
    suite.makefile(".yaml", carecommunication=text)
    out = suite.path / "out"
    result = suite.runpytest(
        "--sut",
        "reference",
        "--kcert-transport",
        "inprocess",
        "--kcert-report",
        str(out),
        "--kcert-answers",
        ANSWERS,
    )
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 13 and "failed" not in outcomes
    result.stdout.fnmatch_lines(["*KcertMinorFindings*", "*[[]F4[]] HTTP-STATUS*"])
    assert json.loads((out / "latest" / "results.json").read_text())["verdict"] == "godkendt"
