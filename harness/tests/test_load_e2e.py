"""`kcert load run` end to end, the real thing: the demo profile (fixtures/load/flp-demo.yaml)
from a Locust master and two workers against the reference FLP service the command starts
and seeds on 127.0.0.1 (fixtures/load/targets/reference-flp.yaml, `reference: true`).

The clean service ends Godkendt (exit 0) at the peak hour and under the stress shape, with
the plots, results.json, junit.xml and a signed manifest that `kcert verify`'s check accepts;
each named performance defect ends Ikke godkendt (exit 1) with SLO findings naming an
operation. `missing-index` and `n-plus-one` break the cockpit at the peak hour; `global-lock`
serialises every request of every worker, which costs little at the demo's peak (~90 req/s
at ~3 ms a request keep the lock a quarter busy) and everything at the stress shape's ×3:
a global lock is a capacity defect, found by asking for more than one request at a time can
carry.

KCERT_SERIAL_TEST: latency SLOs measure the machine too, so `make pytest` runs this file in
its second, serial phase (the Makefile greps for this marker), never beside the parallel
tests. Each run takes ~40 s (seeding 51,000 plans, 30 s of load, stopping).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import psutil  # type: ignore[import-untyped]
import pytest

from harness.cli.main import main
from harness.dossier.signing import generate_keys, load_public, verify
from harness.load.model import OPERATIONS

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "fixtures" / "load" / "flp-demo.yaml"
TARGET = ROOT / "fixtures" / "load" / "targets" / "reference-flp.yaml"
RUN_TIME = "30s"
PLOTS = {"latency.svg", "throughput.svg", "distribution.svg", "users.svg"}
_REPORT = re.compile(r"(?:rapport|report): (\S+)index\.html")


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """No process of the run (Locust, the reference service) outlives it; should one, it is
    ended here (by its pid) and the test fails."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    yield
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    for process in left:
        with contextlib.suppress(psutil.Error):
            process.kill()
    assert not left, [p.pid for p in left]


def load_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str, *extra: str
) -> tuple[int, str, Path]:
    """`kcert load run` on the demo profile, master and two workers: exit code, console, run
    folder."""
    argv = [
        "load", "run", str(PROFILE),
        "--target", str(TARGET),
        "--workers", "2",
        "--shape", shape,
        "--run-time", RUN_TIME,
        "--reports", str(tmp_path / "reports"),
        "--lang", "en",
        *extra,
    ]  # fmt: skip
    code = main(argv)
    out = capsys.readouterr().out
    found = _REPORT.search(out)
    assert found, out
    return code, out, Path(found.group(1))


def findings(run_dir: Path) -> list[dict[str, str]]:
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    return [
        finding
        for protocol in results["protocols"]
        for case in protocol["cases"]
        for step in case["steps"]
        for finding in step["findings"]
    ]


@pytest.mark.parametrize("shape", ["peak", "stress"])
def test_the_clean_service_is_godkendt_with_plots_and_a_signed_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], shape: str
) -> None:
    private, public = generate_keys(tmp_path / "keys")
    code, out, run_dir = load_run(tmp_path, capsys, shape, "--sign-key", str(private))
    assert code == 0, out
    assert "Approved (Godkendt)" in out
    results = json.loads((run_dir / "results.json").read_text(encoding="utf-8"))
    assert results["verdict"] == "godkendt" and results["sut"]["defects"] == []
    # a typical request a little over its median SLO is noted (F4) and does not block
    assert not [f for f in findings(run_dir) if f["severity"] != "F4"], findings(run_dir)
    artifacts = {
        artifact["name"]: artifact
        for protocol in results["protocols"]
        for case in protocol["cases"]
        for step in case["steps"]
        for artifact in step.get("artifacts") or []
    }
    assert artifacts.keys() >= PLOTS, sorted(artifacts)
    for name in PLOTS:
        svg = run_dir / artifacts[name]["file"]
        assert artifacts[name]["media_type"] == "image/svg+xml"
        assert svg.read_bytes().lstrip().startswith((b"<?xml", b"<svg")), name
    assert "locust_stats.csv" in artifacts  # Locust's own numbers kept as evidence
    assert "<testsuite" in (run_dir / "junit.xml").read_text(encoding="utf-8")
    assert "latency.svg" in (run_dir / "index.html").read_text(encoding="utf-8")
    checked = verify(run_dir, load_public(public))
    assert checked.ok, (checked.files, checked.signature, checked.page)


@pytest.mark.parametrize(
    ("defect", "shape", "operations"),
    [
        pytest.param("missing-index", "peak", {"cockpit-list"}, id="missing-index"),
        pytest.param("n-plus-one", "peak", {"cockpit-list"}, id="n-plus-one"),
        pytest.param("global-lock", "stress", set(OPERATIONS), id="global-lock"),
    ],
)
def test_each_defect_is_ikke_godkendt_naming_the_operation(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    defect: str,
    shape: str,
    operations: set[str],
) -> None:
    code, out, run_dir = load_run(tmp_path, capsys, shape, "--defect", defect)
    assert code == 1, out
    assert "Not approved (Ikke godkendt)" in out
    named = {
        op
        for finding in findings(run_dir)
        if finding["rule_id"].startswith("LOAD-")
        for op in OPERATIONS
        if finding["message"].startswith(f"{op}: ")
    }
    assert named & operations, (named, out)
    line = re.search(r"\[F[1-4]\] (\S+): ", out)  # the console names the operation too
    assert line is not None and line.group(1) in OPERATIONS, out
