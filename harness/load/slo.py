"""A load run judged against its profile's SLOs (`judge`), and the outcomes as findings.

Each outcome is `pass`, `fail` (the service missed an objective: a finding with a MedCom
severity) or `error` (kcert could not judge: the run's verdict is Fejl, never a pass and never
the service's failure). The severities, and why:

- error rate over `max_error_rate` → F2: requests the service did not answer correctly are
  plans not created or not shown, for every user they hit;
- p99 over → F3, and more than `FAR_OVER` times over → F2: the slowest requests of a busy
  hour are the ones clinics wait on; far over, they time out in the clients;
- p95 over → F3: the service is too slow for a large share of requests (blocks approval);
- p50 over → F4: the typical request is slower than the objective while the tails (judged by
  their own SLOs) are not: noted, it does not block approval alone;
- the target rate not reached while the service's latency or errors fail → F3 (the service
  could not carry the load); the service, not only the operation: the virtual users are
  shared by all operations (a user waiting seconds on a locked plan-create sends no
  plan-share meanwhile), so one slow operation lowers every operation's rate. Not reached
  while every operation's latency and errors are fine → error: the generator did not send
  the load, so kcert cannot say the service carries it;
- a failed preflight → F2, quoting the service (it broke the contract before any load); an
  unreachable target is an error;
- the generator overloaded (a process at ≥ `CPU_SATURATED_PERCENT` of a core in at least
  `CPU_SATURATED_SHARE` of its samples) → error; a run stopped by a signal → error (a partial
  run says so); `Stopped.ERROR` → error; an operation without a single measured request →
  error.

Latency is Locust's whole-run percentile (its CSV keeps no distribution per second); the
achieved rate is over the plateau (the seconds with the most users), from the history's
cumulative counts, so the ramp does not lower it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from harness.checks.rules import RULES, register_rules
from harness.load.model import LoadResult, RateTable, Stopped
from harness.load.stats import LoadStats, OpStats
from harness.model.finding import Finding, Location
from harness.model.i18n import Text
from harness.model.outcome import Severity

FAR_OVER = 2.0  # p99 more than this many times its SLO: F2
CPU_SATURATED_PERCENT = 90.0  # of one core
CPU_SATURATED_SHARE = 0.25  # of a process's samples at or above it: the generator was the limit
CPU_MIN_SAMPLES = 3  # fewer samples say nothing about a sustained share
QUOTED_FAILURES = 3  # the service's own messages quoted per finding

PASS, FAIL, ERROR = "pass", "fail", "error"

RULE_IDS = {
    "p50": "LOAD-P50",
    "p95": "LOAD-P95",
    "p99": "LOAD-P99",
    "error-rate": "LOAD-ERROR-RATE",
    "rate": "LOAD-RATE",
    "preflight": "LOAD-PREFLIGHT",
}
_TITLES = {
    "LOAD-P50": Text("Median svartid over SLO", "Median latency over the SLO"),
    "LOAD-P95": Text("95-percentil svartid over SLO", "95th percentile latency over the SLO"),
    "LOAD-P99": Text("99-percentil svartid over SLO", "99th percentile latency over the SLO"),
    "LOAD-ERROR-RATE": Text("Fejlrate over det tilladte", "Error rate over the allowed"),
    "LOAD-RATE": Text(
        "Målrate ikke nået (tjenesten bar ikke belastningen)",
        "Target rate not reached (the service did not carry the load)",
    ),
    "LOAD-PREFLIGHT": Text(
        "Korrekthedstjek før belastning fejlede", "Correctness preflight before load failed"
    ),
}
if not all(rule in RULES for rule in _TITLES):
    register_rules("load", _TITLES)


@dataclass(frozen=True)
class SloOutcome:
    """One objective of one operation (or the run's own health), judged."""

    operation: str  # an operation id; "" for the run as a whole
    measure: str  # p50 | p95 | p99 | error-rate | rate | requests | preflight | generator | run
    status: str  # pass | fail | error
    measured: float | None
    allowed: float | None
    unit: str  # ms | share | per-s | percent | ""
    severity: Severity  # of a failure; OK otherwise
    text: Text
    quotes: tuple[str, ...] = ()  # the service's own failure messages

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def finding(self, lang: str, step_id: str = "") -> Finding | None:
        """A failure as a finding in `lang`; a pass or an error is none."""
        if self.status != FAIL:
            return None
        return Finding(
            RULE_IDS.get(self.measure, "LOAD-SLO"),
            self.severity,
            self.text.get(lang),
            Location(path=self.operation, language="load"),
            step_id=step_id,
        )


def judge(result: LoadResult, stats: LoadStats, rates: RateTable) -> list[SloOutcome]:
    """Every objective of the profile, the preflight and the generator's health, judged."""
    out = list(_preflight(result))
    if any(o.status != PASS for o in out):
        return out  # no load was sent: nothing else to judge
    if result.stopped is Stopped.ERROR:
        reason = result.error or "Locust stopped with an error"
        out.append(
            _error("", "run", Text(f"Kørslen fejlede: {reason}", f"The run failed: {reason}"))
        )
        return out
    if result.stopped is Stopped.SIGNAL:
        done, planned = result.duration_s, result.run_time_s
        out.append(
            _error(
                "",
                "run",
                Text(
                    f"Delvis kørsel: stoppet (Ctrl-C/SIGTERM) efter {done:.0f} s af "
                    f"{planned:.0f} s;"
                    " målingerne vises, men bedømmer ikke tjenesten",
                    f"Partial run: stopped (Ctrl-C/SIGTERM) after {done:.0f} s of "
                    f"{planned:.0f} s;"
                    " the measurements are shown but do not judge the service",
                ),
            )
        )
    out.extend(_generator(result))
    judged = {op: _operation(op, result, stats) for op in result.profile.operations}
    service_ok = all(o.status != FAIL for found in judged.values() for o in found)
    for op, found in judged.items():
        out.extend(found)
        out.extend(_rate_of(op, result, stats, rates, service_ok=service_ok))
    return out


def target_rate(result: LoadResult, rates: RateTable, operation: str) -> float:
    """The model's rate of `operation` for the run's shape, scaled down as the engine scales
    the whole load to the profile's `max_rate_per_s` bound."""
    rate = next((r for r in rates.rates if r.operation == operation), None)
    if rate is None:
        return 0.0
    total = rates.total(result.shape)
    bound = result.profile.bounds.max_rate_per_s
    scale = min(1.0, bound / total) if total > 0 and bound > 0 else 1.0
    return rate.for_shape(result.shape) * scale


def _preflight(result: LoadResult) -> Iterable[SloOutcome]:
    for check in result.preflight:
        op = check.operation
        said = f"{check.method} {check.url}"
        if check.ok:
            yield SloOutcome(
                op,
                "preflight",
                PASS,
                check.status,
                None,
                "",
                Severity.OK,
                Text(f"{op}: {said} → HTTP {check.status}", f"{op}: {said} → HTTP {check.status}"),
            )
        elif check.status is None:
            yield _error(
                op,
                "preflight",
                Text(
                    f"{op}: tjenesten kunne ikke nås ({said}): {check.message}",
                    f"{op}: the service could not be reached ({said}): {check.message}",
                ),
            )
        else:
            yield SloOutcome(
                op,
                "preflight",
                FAIL,
                check.status,
                None,
                "",
                Severity.F2,
                Text(
                    f"{op}: {said} → HTTP {check.status}, tjenesten svarede: »{check.message}«",
                    f"{op}: {said} → HTTP {check.status}, the service answered: "
                    f"\u201c{check.message}\u201d",
                ),
                (check.message,),
            )


def _generator(result: LoadResult) -> Iterable[SloOutcome]:
    """An overloaded generator measures itself, not the service."""
    by_process: dict[str, list[float]] = {}
    for sample in result.cpu:
        by_process.setdefault(sample.process, []).append(sample.percent)
    for process, samples in sorted(by_process.items()):
        if len(samples) < CPU_MIN_SAMPLES:
            continue
        hot = sum(1 for p in samples if p >= CPU_SATURATED_PERCENT) / len(samples)
        if hot >= CPU_SATURATED_SHARE:
            yield _error(
                "",
                "generator",
                Text(
                    f"Belastningsgeneratoren var overbelastet: {process} brugte ≥ "
                    f"{CPU_SATURATED_PERCENT:.0f} % af en kerne i {hot * 100:.0f} % af målingerne; "
                    "kcert kan ikke bedømme tjenesten (flere workers: --workers N)",
                    f"The load generator was overloaded: {process} used ≥ "
                    f"{CPU_SATURATED_PERCENT:.0f} % of a core in {hot * 100:.0f} % of its samples; "
                    "kcert cannot judge the service (more workers: --workers N)",
                ),
                measured=hot,
                allowed=CPU_SATURATED_SHARE,
            )


def _operation(op: str, result: LoadResult, stats: LoadStats) -> list[SloOutcome]:
    """The operation's latency and error objectives (its rate comes after every operation's,
    see `_rate_of`)."""
    measured = stats.operations.get(op)
    if measured is None or measured.requests == 0:
        return [
            _error(
                op,
                "requests",
                Text(
                    f"{op}: ingen forespørgsler målt; kcert kan ikke bedømme operationen",
                    f"{op}: no requests measured; kcert cannot judge the operation",
                ),
                measured=0,
            )
        ]
    slo = result.profile.slos.get(op)
    if slo is None:
        return []
    return [
        o
        for o in (
            _latency(op, measured, "p50", "50%", slo.p50_ms, Severity.F4),
            _latency(op, measured, "p95", "95%", slo.p95_ms, Severity.F3),
            _latency(op, measured, "p99", "99%", slo.p99_ms, Severity.F3),
            _errors(op, measured, slo.max_error_rate, stats),
        )
        if o is not None
    ]


def _rate_of(
    op: str, result: LoadResult, stats: LoadStats, rates: RateTable, *, service_ok: bool
) -> list[SloOutcome]:
    """The operation's rate objective; `service_ok`: no operation failed its latency or
    error objectives (a shortfall is then the generator's, not the service's)."""
    measured = stats.operations.get(op)
    slo = result.profile.slos.get(op)
    if measured is None or measured.requests == 0 or slo is None or slo.min_rate_share is None:
        return []
    target = target_rate(result, rates, op)
    if target <= 0:
        return []
    return [_rate(op, measured, stats, target, slo.min_rate_share, service_ok)]


def _latency(
    op: str, measured: OpStats, measure: str, key: str, allowed: float | None, severity: Severity
) -> SloOutcome | None:
    if allowed is None:
        return None
    value = measured.percentile(key)
    if value is None and key == "50%":
        value = measured.median_ms
    if value is None:
        return _error(
            op,
            measure,
            Text(f"{op}: Locust målte ingen {measure}", f"{op}: Locust measured no {measure}"),
        )
    if value <= allowed:
        text = f"{op}: {measure} {value:.0f} ms ≤ SLO {allowed:.0f} ms"
        return SloOutcome(op, measure, PASS, value, allowed, "ms", Severity.OK, Text(text, text))
    if measure == "p99" and value > FAR_OVER * allowed:
        severity = Severity.F2
    return SloOutcome(
        op,
        measure,
        FAIL,
        value,
        allowed,
        "ms",
        severity,
        Text(
            f"{op}: {measure} {value:.0f} ms > SLO {allowed:.0f} ms "
            f"({measured.requests} forespørgsler)",
            f"{op}: {measure} {value:.0f} ms > SLO {allowed:.0f} ms ({measured.requests} requests)",
        ),
    )


def _errors(
    op: str, measured: OpStats, allowed: float | None, stats: LoadStats
) -> SloOutcome | None:
    if allowed is None:
        return None
    rate = measured.error_rate
    counts = f"{measured.failures}/{measured.requests}"
    if rate <= allowed:
        text = f"{op}: {rate:.2%} ≤ {allowed:.2%} ({counts})"
        return SloOutcome(
            op,
            "error-rate",
            PASS,
            rate,
            allowed,
            "share",
            Severity.OK,
            Text(
                f"{op}: fejlrate {text[len(op) + 2 :]}", f"{op}: error rate {text[len(op) + 2 :]}"
            ),
        )
    failures = stats.failures_of(op)[:QUOTED_FAILURES]
    quotes = tuple(quoted(f.error) for f in failures)
    said_da = "; ".join(f"»{q}« ({f.occurrences}×)" for q, f in zip(quotes, failures, strict=True))
    said_en = "; ".join(
        f"\u201c{q}\u201d ({f.occurrences}×)" for q, f in zip(quotes, failures, strict=True)
    )
    return SloOutcome(
        op,
        "error-rate",
        FAIL,
        rate,
        allowed,
        "share",
        Severity.F2,
        Text(
            f"{op}: fejlrate {rate:.2%} > tilladt {allowed:.2%} ({counts})"
            + (f"; tjenesten svarede: {said_da}" if said_da else ""),
            f"{op}: error rate {rate:.2%} > allowed {allowed:.2%} ({counts})"
            + (f"; the service answered: {said_en}" if said_en else ""),
        ),
        quotes,
    )


def _rate(
    op: str,
    measured: OpStats,
    stats: LoadStats,
    target: float,
    share: float,
    service_ok: bool,
) -> SloOutcome:
    plateau = stats.plateau_rate(op)
    achieved = plateau if plateau is not None else measured.rate_per_s
    where_da, where_en = (
        ("på plateauet", "on the plateau")
        if plateau is not None
        else ("over hele kørslen", "over the whole run")
    )
    need = share * target
    figures = f"{achieved:.2f}/s < {share:.0%} × {target:.2f}/s = {need:.2f}/s"
    if achieved >= need:
        text = f"{op}: {achieved:.2f}/s ≥ {share:.0%} × {target:.2f}/s"
        return SloOutcome(op, "rate", PASS, achieved, need, "per-s", Severity.OK, Text(text, text))
    if service_ok:
        return _error(
            op,
            "rate",
            Text(
                f"{op}: målraten blev ikke nået ({figures} {where_da}), mens alle operationers"
                " svartider og fejlrate var inden for SLO: generatoren sendte ikke belastningen,"
                " kcert kan ikke bedømme (flere brugere eller workers)",
                f"{op}: the target rate was not reached ({figures} {where_en}) while every "
                "operation's latency and error rate were within the SLO: the generator did not "
                "send the load, kcert cannot judge (more users or workers)",
            ),
            measured=achieved,
            allowed=need,
        )
    return SloOutcome(
        op,
        "rate",
        FAIL,
        achieved,
        need,
        "per-s",
        Severity.F3,
        Text(
            f"{op}: opnået rate {figures} {where_da}", f"{op}: achieved rate {figures} {where_en}"
        ),
    )


_WRAPPED = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*\((['\"])(.*)\1\)$", re.S)


def quoted(error: str) -> str:
    """The service's message inside Locust's wrapper (`CatchResponseError('HTTP 503: …')`)."""
    text = error.strip()
    match = _WRAPPED.match(text)
    return (match.group(2) if match else text).strip()


def _error(
    op: str,
    measure: str,
    text: Text,
    measured: float | None = None,
    allowed: float | None = None,
) -> SloOutcome:
    return SloOutcome(op, measure, ERROR, measured, allowed, "", Severity.OK, text)


def summary(outcomes: Iterable[SloOutcome]) -> str:
    """pass/fail/error counts, for a progress line."""
    found = list(outcomes)
    return " ".join(f"{s}={sum(1 for o in found if o.status == s)}" for s in (PASS, FAIL, ERROR))
