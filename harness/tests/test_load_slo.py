"""Locust's CSV files read back (`read_stats`) and a load run judged (`slo.judge`): every rule
fires on its case and keeps quiet otherwise."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from harness.load import stats as stats_mod
from harness.load.model import CpuSample, PreflightCheck, Slo, Stopped
from harness.load.slo import ERROR, FAIL, PASS, SloOutcome, judge, quoted, target_rate
from harness.load.stats import AGGREGATED, LoadStats, StatsError, read_stats
from harness.model.outcome import Severity
from harness.tests.load_verdict_data import OPS, SAMPLE, rates, result


def outcomes_of(found: list[SloOutcome], op: str = "", measure: str = "") -> list[SloOutcome]:
    return [
        o for o in found if (not op or o.operation == op) and (not measure or o.measure == measure)
    ]


# -- reading --------------------------------------------------------------------------------------


def test_reads_the_real_locust_sample() -> None:
    s = read_stats(SAMPLE)
    assert sorted(s.operations) == sorted(OPS)
    assert s.aggregate is not None and s.aggregate.requests == 299
    cockpit = s.operations["cockpit-list"]
    assert (cockpit.requests, cockpit.failures, cockpit.percentile("95%")) == (96, 96, 14)
    assert cockpit.error_rate == 1.0
    assert len(s.history) == 40 and s.history_of(AGGREGATED)[0].percentiles["50%"] is None
    assert s.failures[0].name == "cockpit-list" and s.failures[0].occurrences == 96
    assert [p.name for p in s.files] == [
        "peak_stats.csv",
        "peak_stats_history.csv",
        "peak_failures.csv",
    ]


def test_plateau_rate_leaves_the_ramp_out() -> None:
    s = read_stats(SAMPLE)
    assert s.plateau() == (1796312940, 1796312945)
    assert s.plateau_rate("plan-create") == pytest.approx(20.0)
    # over the whole run (ramp included) Locust says less
    assert s.operations["plan-create"].rate_per_s < 16


def test_plateau_rate_needs_two_plateau_seconds() -> None:
    assert LoadStats.empty().plateau_rate("plan-create") is None


def copy_sample(tmp_path: Path) -> Path:
    for f in SAMPLE.parent.glob("peak_*.csv"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "peak"


def test_a_malformed_row_names_file_and_line(tmp_path: Path) -> None:
    prefix = copy_sample(tmp_path)
    stats_file = tmp_path / "peak_stats.csv"
    lines = stats_file.read_text().splitlines()
    lines[2] = lines[2].replace(",149,", ",many,", 1)
    stats_file.write_text("\n".join(lines) + "\n")
    with pytest.raises(StatsError, match=r"peak_stats\.csv:3: Request Count: 'many'"):
        read_stats(prefix)


def test_a_short_row_and_a_missing_column_are_refused(tmp_path: Path) -> None:
    prefix = copy_sample(tmp_path)
    history = tmp_path / "peak_stats_history.csv"
    history.write_text(history.read_text() + "1796312946,5,,Aggregated\n")
    with pytest.raises(StatsError, match=r"peak_stats_history\.csv:42: 4 cells"):
        read_stats(prefix)
    (tmp_path / "peak_failures.csv").write_text("Method,Name\nGET,x\n")
    history.unlink()
    with pytest.raises(StatsError, match=r"peak_failures\.csv:1: header: no column Error"):
        read_stats(prefix)


def test_reading_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = copy_sample(tmp_path)
    monkeypatch.setattr(stats_mod, "MAX_FILE_BYTES", 100)
    with pytest.raises(StatsError, match=r"peak_stats\.csv:1: the file is \d+ bytes"):
        read_stats(prefix)


def test_no_stats_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StatsError, match="Locust left no stats file"):
        read_stats(tmp_path / "none")


# -- judging ---------------------------------------------------------------------------------------


def test_the_sample_within_its_slos_passes_everything() -> None:
    found = judge(result(), read_stats(SAMPLE), rates())
    assert {o.status for o in found} == {PASS}
    # preflight 3 + per operation p50/p95/p99/errors/rate
    assert len(found) == 3 + 3 * 5
    rate = outcomes_of(found, "plan-create", "rate")[0]
    assert rate.measured == pytest.approx(20.0) and rate.allowed == pytest.approx(0.8 * 18)


@pytest.mark.parametrize(
    ("slo", "measure", "severity", "text"),
    [
        (Slo("plan-create", p50_ms=5), "p50", Severity.F4, "plan-create: p50 7 ms > SLO 5 ms"),
        (Slo("plan-create", p95_ms=10), "p95", Severity.F3, "plan-create: p95 12 ms > SLO 10 ms"),
        (Slo("plan-create", p99_ms=10), "p99", Severity.F3, "plan-create: p99 15 ms > SLO 10 ms"),
        (Slo("plan-create", p99_ms=7), "p99", Severity.F2, "plan-create: p99 15 ms > SLO 7 ms"),
    ],
)
def test_latency_over_its_slo_fails_with_its_severity(
    slo: Slo, measure: str, severity: Severity, text: str
) -> None:
    found = judge(result(slo_changes={"plan-create": slo}), read_stats(SAMPLE), rates())
    (failed,) = [o for o in found if o.status == FAIL]
    assert (failed.operation, failed.measure, failed.severity) == ("plan-create", measure, severity)
    assert failed.text.en.startswith(text) and failed.text.da.startswith(text)
    finding = failed.finding("en", "4")
    assert finding is not None and finding.rule_id == f"LOAD-{measure.upper()}"
    assert finding.message.startswith(text) and finding.step_id == "4"


def test_error_rate_over_quotes_the_service() -> None:
    slo = Slo("cockpit-list", max_error_rate=0.01)
    found = judge(result(slo_changes={"cockpit-list": slo}), read_stats(SAMPLE), rates())
    (failed,) = [o for o in found if o.status == FAIL]
    assert failed.measure == "error-rate" and failed.severity is Severity.F2
    assert failed.quotes == ("HTTP 503: cockpit query timed out",)
    assert "100.00% > allowed 1.00% (96/96)" in failed.text.en
    assert "\u201cHTTP 503: cockpit query timed out\u201d (96×)" in failed.text.en
    assert "»HTTP 503: cockpit query timed out« (96×)" in failed.text.da


def test_quoted_unwraps_locusts_exception_text() -> None:
    assert quoted("CatchResponseError('HTTP 412: stale version')") == "HTTP 412: stale version"
    assert quoted('HTTPError("500 Server Error")') == "500 Server Error"
    assert quoted("plain text") == "plain text"


def test_rate_not_reached_with_good_latency_is_the_generators_error() -> None:
    found = judge(result(), read_stats(SAMPLE), rates({"plan-create": 40.0}))
    (rate,) = outcomes_of(found, "plan-create", "rate")
    assert rate.status == ERROR and "generator did not send the load" in rate.text.en
    assert rate.finding("en") is None  # not the service's failure


def test_rate_not_reached_with_bad_latency_is_the_services_failure() -> None:
    slo = Slo("plan-create", p95_ms=10, min_rate_share=0.8)
    found = judge(
        result(slo_changes={"plan-create": slo}), read_stats(SAMPLE), rates({"plan-create": 40.0})
    )
    (rate,) = outcomes_of(found, "plan-create", "rate")
    assert rate.status == FAIL and rate.severity is Severity.F3
    assert "20.00/s < 80% × 40.00/s = 32.00/s on the plateau" in rate.text.en


def test_target_rate_is_scaled_to_the_profiles_bound() -> None:
    r = result()
    bounded = dataclasses.replace(
        r,
        profile=dataclasses.replace(
            r.profile, bounds=dataclasses.replace(r.profile.bounds, max_rate_per_s=17)
        ),
    )
    assert target_rate(bounded, rates(), "plan-create") == pytest.approx(18 * 17 / 34)
    assert target_rate(r, rates(), "plan-create") == 18


def test_preflight_failure_quotes_the_service_and_stops_judging() -> None:
    bad = PreflightCheck(
        "plan-update",
        False,
        "PUT",
        "http://127.0.0.1:1/flp/v1/plans/x",
        500,
        "Internal Server Error: boom",
    )
    found = judge(result(preflight=(bad,)), LoadStats.empty(), rates())
    (only,) = found
    assert only.status == FAIL and only.severity is Severity.F2
    assert only.text.en == (
        "plan-update: PUT http://127.0.0.1:1/flp/v1/plans/x → HTTP 500, the service answered: "
        "\u201cInternal Server Error: boom\u201d"
    )


def test_an_unreachable_target_is_an_error_not_a_failure() -> None:
    gone = PreflightCheck(
        "plan-create", False, "POST", "http://127.0.0.1:1/flp/v1/plans", None, "connection refused"
    )
    (only,) = judge(result(preflight=(gone,)), LoadStats.empty(), rates())
    assert only.status == ERROR and "could not be reached" in only.text.en


def test_a_saturated_generator_is_an_error() -> None:
    hot = tuple(CpuSample(float(t), "worker-2", 97.0 if t % 2 else 40.0) for t in range(10))
    found = judge(result(cpu=hot), read_stats(SAMPLE), rates())
    (gen,) = outcomes_of(found, "", "generator")
    assert gen.status == ERROR and "worker-2" in gen.text.en and gen.measured == 0.5


def test_a_busy_but_not_saturated_generator_is_quiet() -> None:
    warm = tuple(CpuSample(float(t), "master", 95.0 if t < 2 else 60.0) for t in range(10))
    few = tuple(CpuSample(float(t), "worker-1", 99.0) for t in range(2))
    found = judge(result(cpu=warm + few), read_stats(SAMPLE), rates())
    assert not outcomes_of(found, "", "generator")


def test_a_signal_makes_a_partial_run() -> None:
    found = judge(result(stopped=Stopped.SIGNAL, duration_s=4.0), read_stats(SAMPLE), rates())
    (run,) = outcomes_of(found, "", "run")
    assert run.status == ERROR and run.text.en.startswith(
        "Partial run: stopped (Ctrl-C/SIGTERM) after 4 s of 12 s"
    )
    assert run.text.da.startswith("Delvis kørsel")
    assert len(found) > 4  # what was measured is still judged and shown


def test_a_locust_error_is_an_error() -> None:
    found = judge(result(stopped=Stopped.ERROR, error="worker-1 died"), read_stats(SAMPLE), rates())
    assert [o.status for o in found if o.measure != "preflight"] == [ERROR]
    assert "worker-1 died" in found[-1].text.en


def test_an_operation_never_measured_is_an_error() -> None:
    r = result()
    more = dataclasses.replace(
        r, profile=dataclasses.replace(r.profile, operations=(*OPS, "plan-share"))
    )
    (missing,) = outcomes_of(judge(more, read_stats(SAMPLE), rates()), "plan-share")
    assert missing.status == ERROR and "no requests measured" in missing.text.en


LOCUSTFILE = """
from locust import FastHttpUser, task, constant

class U(FastHttpUser):
    wait_time = constant(0.05)

    @task
    def create(self):
        self.client.post("/flp/v1/plans", data="<x/>", name="plan-create")

    @task
    def cockpit(self):
        with self.client.get("/bad", name="cockpit-list", catch_response=True) as r:
            r.failure("HTTP 503: cockpit query timed out")
"""


@pytest.mark.slow
def test_reads_what_the_installed_locust_writes(tmp_path: Path) -> None:
    """The format as this kcert's Locust writes it, against a loopback stub (bounded: -t 3s,
    the subprocess killed after 60 s)."""
    import http.server
    import subprocess
    import sys
    import threading

    class Stub(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
        prefix = tmp_path / "out" / "locust"
        prefix.parent.mkdir()
        command = [sys.executable, "-m", "locust", "-f", str(tmp_path / "locustfile.py")]
        command += ["--headless", "-u", "2", "-r", "2", "-t", "3s", "--csv", str(prefix)]
        command += ["--csv-full-history", "--host", f"http://127.0.0.1:{server.server_port}"]
        subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=60, check=False)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    s = read_stats(prefix)
    assert set(s.operations) == {"plan-create", "cockpit-list"}
    assert s.operations["cockpit-list"].failures == s.operations["cockpit-list"].requests > 0
    assert s.operations["plan-create"].failures == 0
    assert s.history and {r.name for r in s.history} >= {"plan-create", "Aggregated"}
    assert quoted(s.failures_of("cockpit-list")[0].error) == "HTTP 503: cockpit query timed out"


def test_rate_not_reached_beside_another_operations_failure_is_the_services() -> None:
    # the virtual users are shared: a slow plan-create keeps them from sending cockpit-list
    slo = Slo("plan-create", p95_ms=10)
    found = judge(
        result(slo_changes={"plan-create": slo}),
        read_stats(SAMPLE),
        rates({"cockpit-list": 400.0}),
    )
    (rate,) = outcomes_of(found, "cockpit-list", "rate")
    assert all(o.passed for o in found if o.operation == "cockpit-list" and o.measure != "rate")
    assert rate.status == FAIL and rate.severity is Severity.F3
