"""TestScript runs are runs like any other: stored (runs list, approved systems), re-judged on
their recorded exchanges, diffed, resumed after SIGKILL; and every front door goes through the
one run path (`harness.session.runpath`), whose typed errors the CLI prints without traceback."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from harness.fixtures import REPO_ROOT
from harness.session import runpath
from harness.store.history import approved_systems
from harness.store.runstore import RunStore
from harness.tests.test_lifecycle import ANSWERS, CC, kcert
from harness.tests.test_testscript import carecommunication, check, op, script

pytest_plugins = ["pytester"]


def write_scripts(folder: Path, count: int, failing: tuple[int, ...] = (0,)) -> None:
    """`count` scripts against the reference LPS: a setup whose answer the test reads (state
    shared across the script's cases), a test, a teardown; those in `failing` expect 201."""
    (folder / "Fixtures").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / "Fixtures" / f"cc{i}.json").write_text(json.dumps(carecommunication()))
        data = script(
            f"s{i:02d}",
            [
                check(sourceId="ack", expression="Bundle.type = 'message'"),
                op("process-message", sourceId="cc"),
                check(responseCode="201" if i in failing else "200"),
            ],
            fixture=[{"id": "cc", "resource": {"reference": f"Fixtures/cc{i}.json"}}],
            setup={
                "action": [
                    op("process-message", sourceId="cc", responseId="ack"),
                    check(responseCode="200"),
                ]
            },
            teardown={"action": [op("search", url="${kcert-agent-base}/messages?x=1")]},
        )
        (folder / f"s{i:02d}.json").write_text(json.dumps(data))


def ts_run(
    capsys: pytest.CaptureFixture[str], scripts: Path, reports: Path, *extra: str
) -> tuple[int, str]:
    return kcert(
        capsys,
        "testscript",
        "run",
        str(scripts),
        "--sut",
        "reference",
        "--transport",
        "inprocess",
        "--reports",
        str(reports),
        *extra,
    )


def outcomes(db: Path, run_id: str = "") -> dict[tuple[str, str], tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        run_id = (
            run_id
            or conn.execute("SELECT run_id FROM runs ORDER BY created DESC LIMIT 1").fetchone()[0]
        )
        rows = conn.execute(
            "SELECT protocol_id, case_id, outcome, assessment FROM case_results WHERE run_id = ?",
            (run_id,),
        ).fetchall()
    return {(p, c): (o, a) for p, c, o, a in rows}


def run_ids(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT run_id FROM runs ORDER BY created")]


def test_a_testscript_run_is_stored_listed_rejudged_and_diffed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    scripts, reports = tmp_path / "scripts", tmp_path / "reports"
    write_scripts(scripts, 3)
    code, out = ts_run(capsys, scripts, reports, "--lang", "en")
    assert code == 1, out  # s00 expects 201 from $process-message
    assert "s00/t1" in out  # a script's case named with its script on the console
    db = reports / "kcert-runs.sqlite"
    (first,) = run_ids(db)
    recorded = outcomes(db, first)
    assert len(recorded) == 9
    assert recorded[("s00", "t1")] == ("fail", "F2")
    assert recorded[("s01", "t1")] == ("pass", "OK")
    run_dir = reports / first
    assert json.loads((run_dir / "testreports" / "s00.json").read_text())["result"] == "fail"

    code, out = kcert(capsys, "runs", "list", "--reports", str(reports))
    assert code == 0 and first in out
    code, out = kcert(capsys, "runs", "systems", "--reports", str(reports))
    assert code == 0 and "s01" in out
    store = RunStore(f"sqlite:///{db}")
    try:
        systems = {s.protocol: s for s in approved_systems(store)}
    finally:
        store.close()
    assert set(systems) == {"s00", "s01", "s02"}
    assert {s.standard for s in systems.values()} == {"fhir-testscript"}
    assert {s.run_id for s in systems.values()} == {first}

    # re-judged on the recorded exchanges: the same requests, byte for byte, the same outcomes
    code, out = kcert(capsys, "rejudge", first, "--reports", str(reports), "--lang", "en")
    assert code == 1, out
    assert "same verdict" in out and "differ" not in out, out
    second = run_ids(db)[-1]
    assert outcomes(db, second) == recorded
    assert (reports / second / "testreports" / "s01.json").is_file()

    # a script corrected after the run: re-judging applies it to what the SUT answered
    fixed = json.loads((scripts / "s00.json").read_text())
    fixed["test"][0]["action"][2]["assert"]["responseCode"] = "200"
    (scripts / "s00.json").write_text(json.dumps(fixed))
    code, out = kcert(capsys, "rejudge", first, "--reports", str(reports), "--lang", "en")
    assert code == 0, out
    third = run_ids(db)[-1]
    assert outcomes(db, third)[("s00", "t1")] == ("pass", "OK")

    code, out = kcert(capsys, "diff", first, third, "--reports", str(reports))
    assert code in (0, 1), out
    assert "s00" in out and "t1" in out, out
    code, out = kcert(capsys, "diff", first, second, "--reports", str(reports))
    assert "s00" not in out or "identical" in out.lower() or "ingen" in out.lower(), out


def _recorded(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM case_results").fetchone()[0])
    except sqlite3.Error:
        return 0


def _started(db: Path) -> dict[tuple[str, str], str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT protocol_id, case_id, started FROM case_results").fetchall()
    return {(p, c): s for p, c, s in rows}


@pytest.mark.slow
def test_sigkill_in_a_testscript_run_then_resume_gives_the_uninterrupted_results(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scripts = tmp_path / "scripts"
    write_scripts(scripts, 30, failing=(3, 17))
    straight = tmp_path / "straight"
    code, _ = ts_run(capsys, scripts, straight)
    assert code == 1
    expected = outcomes(straight / "kcert-runs.sqlite")
    assert len(expected) == 90

    reports = tmp_path / "killed"
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("KCERT_STORE", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness.cli.main",
            "testscript",
            "run",
            str(scripts),
            "--sut",
            "reference",  # over HTTP on 127.0.0.1
            "--reports",
            str(reports),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    db = reports / "kcert-runs.sqlite"
    deadline = time.monotonic() + 60
    try:
        while _recorded(db) < 7 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    before = _started(db)
    assert 7 <= len(before) < 90
    whole = {p for p, _ in before if all((p, c) in before for c in ("setup", "t1", "teardown"))}
    assert whole, before

    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    kept = 3 * len(whole)
    assert f"{kept} af 90 testcases er allerede registreret" in out, out
    assert code == 1
    assert outcomes(db) == expected
    after = _started(db)
    # the scripts recorded whole were kept, not run again; the interrupted one ran again whole
    assert {k: v for k, v in after.items() if k[0] in whole} == {
        k: v for k, v in before.items() if k[0] in whole
    }
    run_dir = next(p for p in reports.iterdir() if p.is_dir() and p.name != "latest")
    assert len(list((run_dir / "testreports").glob("*.json"))) == 30
    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    assert code == 2 and "is finished; nothing to resume" in out


# -- the one run path ---------------------------------------------------------------------------


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool, bool]]:
    """Every call of the run path's end (`finish`: waivers, reports, record, signature): the
    run's relation, whether it carried TestScripts and whether it was recorded in a store."""
    calls: list[tuple[str, bool, bool]] = []
    original = runpath.finish

    def finish(run: Any, reporting: Any, store: Any = None, scripts: Any = None) -> Path:
        calls.append((run.relation or "run", scripts is not None, store is not None))
        return original(run, reporting, store, scripts)

    monkeypatch.setattr(runpath, "finish", finish)
    return calls


def test_every_cli_front_door_goes_through_the_run_path(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, spy: list[tuple[str, bool, bool]]
) -> None:
    reports = tmp_path / "r"
    base = ["--sut", "reference", "--transport", "inprocess", "--reports", str(reports)]
    code, out = kcert(capsys, "certify", "--protocols", CC, "--case", "CC-R-01,CC-R-13", *base)
    assert code == 0 or "CC-R-13" in out, out  # CC-R-13 waits for its manual answer
    code, out = kcert(capsys, "answer", "latest", "--answers", ANSWERS, "--reports", str(reports))
    assert code == 0, out
    db = reports / "kcert-runs.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'running'")
    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    assert code == 0, out
    code, out = kcert(capsys, "rejudge", "latest", "--reports", str(reports))
    assert code == 0, out
    scripts = tmp_path / "scripts"
    write_scripts(scripts, 1, failing=())
    code, out = ts_run(capsys, scripts, reports)
    assert code == 0, out
    assert spy == [
        ("run", False, True),  # certify
        ("run", False, True),  # answer
        ("run", False, True),  # resume
        ("rejudge", False, True),
        ("run", True, True),  # testscript run
    ]


def test_the_pytest_front_door_goes_through_the_run_path(
    spy: list[tuple[str, bool, bool]], pytester: pytest.Pytester
) -> None:
    pytester.makefile(".yaml", carecommunication=Path(CC).read_text(encoding="utf-8"))
    out_dir = pytester.path / "out"
    result = pytester.runpytest_inprocess(
        "--sut",
        "reference",
        "--kcert-transport",
        "inprocess",
        "--kcert-report",
        str(out_dir),
        "-k",
        "CC-R-01",
    )
    result.assert_outcomes(passed=1, deselected=12)
    assert spy == [("run", False, False)]  # pytest keeps no run store
    assert (out_dir / "latest" / "results.json").is_file()


def test_the_run_paths_errors_are_clear_cli_messages(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    scripts, reports = tmp_path / "scripts", tmp_path / "r"
    write_scripts(scripts, 2, failing=())
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out = ts_run(capsys, scripts, reports, "--store", f"sqlite:///{blocker}/sub/runs.sqlite")
    assert code == 2 and "kcert: fejl: run store" in out, out
    with pytest.raises(runpath.StoreProblem):
        runpath.open_store(f"sqlite:///{blocker}/sub/runs.sqlite", reports)

    code, out = ts_run(capsys, scripts, reports)
    assert code == 0, out
    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    assert code == 2 and "is finished; nothing to resume" in out
    db = reports / "kcert-runs.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET status = 'running'")
    changed = scripts / "s01.json"
    changed.write_text(changed.read_text() + "\n")
    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    assert code == 2 and "s01.json changed since run" in out, out
    changed.unlink()
    code, out = kcert(capsys, "resume", "latest", "--reports", str(reports))
    assert code == 2 and "are gone" in out and "s01.json" in out, out
    store = RunStore(f"sqlite:///{db}")
    try:
        with pytest.raises(runpath.ProtocolsChanged):
            runpath.resume_plan(
                store, store.run(run_ids(db)[0]), store.run(run_ids(db)[0]).suite_version
            )
    finally:
        store.close()


def test_the_run_path_writes_testreports_under_the_manifest_and_signs_when_asked(
    tmp_path: Path,
) -> None:
    from harness.dossier.manifest import read_manifest
    from harness.dossier.signing import generate_keys, load_public, verify
    from harness.runner.engine import RunOptions
    from harness.session import SutChoice
    from harness.testscript.fixtures import FixtureMap
    from harness.testscript.profiles import ProfileSource
    from harness.testscript.run import ScriptSuite
    from harness.testscript.script import discover, load_script

    scripts = tmp_path / "scripts"
    write_scripts(scripts, 2)
    loaded = [load_script(p, root) for p, root in discover([scripts])]
    suite = ScriptSuite.of(loaded, FixtureMap(), ProfileSource.none())
    private, public = generate_keys(tmp_path / "keys")
    store = runpath.open_store(None, tmp_path / "r")
    try:
        plan = runpath.RunPlan(
            SutChoice(reference=True, transport="inprocess"),
            suite.protocols,
            RunOptions(tester="Tove Tester"),
            scripts=suite,
        )
        reporting = runpath.Reporting(tmp_path / "r", sign_key=private, signer="Tove Tester")
        done = runpath.run_and_report(store, plan, reporting)
        assert store.run(done.run.run_id).status == "finished"
    finally:
        store.close()
    files = read_manifest(done.run_dir)["files"]
    assert {"testreports/s00.json", "testreports/s01.json"} <= set(files)
    checked = verify(done.run_dir, load_public(public))
    assert checked.ok, checked
    assert checked.signer == "Tove Tester"
    assert (done.run_dir / "signature.html").is_file()


def test_a_script_with_kcert_as_the_server_is_rejudged_on_its_record(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """kcert's mailbox answers without HTTP: re-judging takes those calls off the record in
    step, so the delivery to the SUT meets its own recorded answer."""
    scripts, reports = tmp_path / "scripts", tmp_path / "r"
    scripts.mkdir()
    (scripts / "cc.json").write_text(json.dumps(carecommunication()))
    sut_op = {"origin": 1, "destination": 1}
    data = script(
        "mailbox",
        [
            # placed again in this test: the mailbox call comes before the delivery
            op(
                "updateCreate",
                resource="Bundle",
                destination=1,
                sourceId="cc",
                params="/${bundle-id}",
            ),
            op("read", resource="Bundle", params="/${bundle-id}", **sut_op),
            check(responseCode="200,201", operator="in"),
        ],
        fixture=[{"id": "cc", "resource": {"reference": "cc.json"}}],
        variable=[{"name": "bundle-id", "expression": "Bundle.id", "sourceId": "cc"}],
        setup={
            "action": [
                op(
                    "updateCreate",
                    resource="Bundle",
                    destination=1,
                    sourceId="cc",
                    params="/${bundle-id}",
                ),
                check(responseCode="200,201", operator="in"),
            ]
        },
    )
    (scripts / "mailbox.json").write_text(json.dumps(data))
    code, out = ts_run(capsys, scripts, reports, "--lang", "en")
    assert code == 0, out
    db = reports / "kcert-runs.sqlite"
    first = run_ids(db)[0]
    code, out = kcert(capsys, "rejudge", first, "--reports", str(reports), "--lang", "en")
    assert code == 0, out
    assert "diverged" not in out and "differ" not in out, out
    assert (
        outcomes(db, run_ids(db)[-1])
        == outcomes(db, first)
        == {
            ("mailbox", "setup"): ("pass", "OK"),
            ("mailbox", "t1"): ("pass", "OK"),
        }
    )
