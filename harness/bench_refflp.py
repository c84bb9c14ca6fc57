"""`make bench` section "refflp": the reference FLP service's sustained rate at the SLO.

The service runs as it does for a load demo (`running_refflp`, uvicorn workers, seeded with the
national ~1,700 clinics × 30 plans). A bounded closed-loop client on loopback (threads, one
keep-alive connection each) sends the FLP operation mix at stepped concurrency; each step's
throughput and p95 are printed, and the highest throughput whose p95 stays within the peak
p95 SLO is the figure. SQLite always; PostgreSQL too when KCERT_BENCH_POSTGRES names a database.
"""

from __future__ import annotations

import datetime as dt
import http.client
import importlib
import json
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from harness.load.service import running_refflp

POSTGRES_ENV = "KCERT_BENCH_POSTGRES"
SEED_CLINICS = 1700  # about 1,700 clinics use the plans (DOMAIN.md, published)
SEED_PLANS = 30
STEPS = (1, 2, 4, 8, 16, 32, 64)  # concurrent clients per step
STEP_S = 4.0
MAX_REQUESTS_PER_STEP = 50_000
DEFAULT_P95_MS = 500.0  # when the workload model's SLOs cannot be read
PROFILE = Path(__file__).resolve().parent.parent / "fixtures" / "load" / "flp-national.yaml"
# The operation mix (kcert's assumption for the bench; the load profile derives its own).
MIX: tuple[tuple[str, float], ...] = (
    ("plan-create", 0.10),
    ("plan-update", 0.15),
    ("plan-read-minlaege", 0.25),
    ("plan-read-sundhed", 0.15),
    ("cockpit-list", 0.25),
    ("plan-share", 0.10),
)
CPR_FIRST = dt.date(1950, 1, 1)  # the bench's own synthetic persons: serial 9900-9999


def bench_cpr(index: int) -> str:
    born = CPR_FIRST + dt.timedelta(days=index // 100)
    return f"{born:%d%m%y}{9900 + index % 100}"


def cpd_document(cpr: str, clinic: str, package: str = "kol") -> bytes:
    """A DK-CPD care plan of the shape harness/contract/flp-api.yaml describes."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%S+0000")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <templateId root="1.2.208.184.15.1"/>
  <id root="{uuid.uuid4()}"/>
  <code code="81215-6" codeSystem="2.16.840.1.113883.6.1"/>
  <title>Forløbsplan ({package.upper()})</title>
  <effectiveTime value="{stamp}"/>
  <recordTarget><patientRole><id root="1.2.208.176.1.2" extension="{cpr}"/></patientRole>
  </recordTarget>
  <author><assignedAuthor><id root="1.2.208.176.1.1" extension="{clinic}"/></assignedAuthor>
  </author>
  <component><structuredBody><component><section>
    <templateId root="1.2.208.184.15.1.10.20.2"/>
    <text><list><item>Gå en tur dagligt</item><item>Stop rygning</item></list></text>
  </section></component></structuredBody></component>
</ClinicalDocument>
""".encode()


@dataclass
class StepResult:
    clients: int
    seconds: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies_ms.values())

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def p95(self, operation: str | None = None) -> float:
        values = (
            self.latencies_ms.get(operation, [])
            if operation
            else [x for v in self.latencies_ms.values() for x in v]
        )
        if len(values) < 2:
            return values[0] if values else 0.0
        return statistics.quantiles(values, n=20)[18]


class _User:
    """One closed-loop client: its own clinic, its own patients and plans."""

    def __init__(self, base: str, clinic: str, index: int, rng: random.Random) -> None:
        parts = urlsplit(base)
        self.conn = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=30
        )
        self.clinic = clinic
        self.index = index
        self.rng = rng
        self.plans: list[tuple[str, str, int]] = []  # (id, cpr, version)
        self.made = 0

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers=headers or {})
        answer = self.conn.getresponse()
        return answer.status, answer.read()

    def create(self) -> int:
        cpr = bench_cpr(self.index * 1000 + self.made % 1000)
        self.made += 1
        status, body = self.request(
            "POST",
            "/flp/v1/plans",
            cpd_document(cpr, self.clinic),
            {"Content-Type": "application/xml", "X-Clinic": self.clinic},
        )
        if status == 201:
            self.plans.append((json.loads(body)["id"], cpr, 1))
            del self.plans[:-50]
        return status

    def one(self, operation: str) -> int:
        if not self.plans or operation == "plan-create":
            return self.create()
        k = self.rng.randrange(len(self.plans))
        plan, cpr, version = self.plans[k]
        if operation == "plan-update":
            status, body = self.request(
                "PUT",
                f"/flp/v1/plans/{plan}",
                cpd_document(cpr, self.clinic),
                {
                    "Content-Type": "application/xml",
                    "If-Match": f'"{version}"',
                    "X-Clinic": self.clinic,
                },
            )
            if status == 200:
                self.plans[k] = (plan, cpr, json.loads(body)["version"])
            return status
        if operation in ("plan-read-minlaege", "plan-read-sundhed"):
            channel = "minlaege" if operation == "plan-read-minlaege" else "sundhedsjournalen"
            return self.request("GET", f"/flp/v1/patients/{cpr}/plans?channel={channel}")[0]
        if operation == "cockpit-list":
            package = self.rng.choice(("kol", "lbp"))
            return self.request(
                "GET", f"/flp/v1/clinics/{self.clinic}/cockpit?package={package}&size=50"
            )[0]
        return self.request("POST", f"/flp/v1/plans/{plan}/share")[0]


def run_step(
    base: str,
    clinics: Sequence[str],
    clients: int,
    seconds: float,
    seed: int = 0,
    think_s: tuple[float, float] = (0.0, 0.0),
) -> StepResult:
    """`clients` closed-loop clients for `seconds` (bounded in requests too)."""
    result = StepResult(clients, seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    names = [name for name, _ in MIX]
    weights = [w for _, w in MIX]

    def work(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        user = _User(base, clinics[n % len(clinics)], seed * 100 + n, rng)
        local: dict[str, list[float]] = {}
        errors = 0
        try:
            while time.monotonic() < deadline and result.requests < MAX_REQUESTS_PER_STEP:
                operation = rng.choices(names, weights)[0]
                t0 = time.perf_counter()
                try:
                    status = user.one(operation)
                except (OSError, http.client.HTTPException):
                    status = 0
                    user.conn.close()
                local.setdefault(operation, []).append((time.perf_counter() - t0) * 1000)
                errors += status >= 400 or status == 0
                if think_s[1] > 0:
                    time.sleep(rng.uniform(*think_s))
        finally:
            user.conn.close()
            with lock:
                for op, values in local.items():
                    result.latencies_ms.setdefault(op, []).extend(values)
                result.errors += errors

    threads = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 60)
    result.seconds = time.monotonic() - started
    return result


def seed(base: str, clinics: int = SEED_CLINICS, plans: int = SEED_PLANS) -> list[str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=120)
    try:
        conn.request("POST", "/flp/v1/admin/reset")
        conn.getresponse().read()
        body = json.dumps({"clinics": clinics, "plans_per_clinic": plans, "seed": 1})
        conn.request(
            "POST", "/flp/v1/admin/seed", body=body, headers={"Content-Type": "application/json"}
        )
        answer = conn.getresponse()
        data = json.loads(answer.read())
        if answer.status != 200:
            raise RuntimeError(f"seed answered {answer.status}: {data}")
        return list(data["clinics"])
    finally:
        conn.close()


def peak_p95_slos() -> tuple[dict[str, float], str]:
    """Each operation's p95 SLO in the national profile, and where they came from."""
    try:
        # the workload model's reader (the model lane's module), looked up at run time
        profile = importlib.import_module("harness.load.profile").load_profile(PROFILE)
        slos = {op: s.p95_ms for op, s in profile.slos.items() if s.p95_ms is not None}
        if slos:
            return slos, PROFILE.name
    except (ImportError, OSError, ValueError):
        pass
    return {op: DEFAULT_P95_MS for op, _ in MIX}, "kcert's default (the profile was not read)"


def within(step: StepResult, slos: dict[str, float]) -> bool:
    """Every operation's p95 within its SLO, and no errors."""
    return step.errors == 0 and all(
        step.p95(op) <= slos.get(op, DEFAULT_P95_MS) for op in step.latencies_ms
    )


def sustained(
    base: str,
    clinics: Sequence[str],
    slos: dict[str, float],
    steps: Sequence[int] = STEPS,
    step_s: float = STEP_S,
) -> tuple[float, list[StepResult]]:
    """The highest step throughput within the SLOs, with every step run."""
    results: list[StepResult] = []
    best = 0.0
    worst_slo = max(slos.values(), default=DEFAULT_P95_MS)
    for clients in steps:
        step = run_step(base, clinics, clients, step_s, seed=clients)
        results.append(step)
        if within(step, slos):
            best = max(best, step.rate)
        elif step.p95() > 4 * worst_slo:
            break  # past saturation: the next step only queues more
    return best, results


def refflp_bench(workers: int = 2, defects: Sequence[str] = ()) -> None:
    slos, source = peak_p95_slos()
    print(
        f"\nreference FLP service ({workers} uvicorn workers, seeded {SEED_CLINICS} clinics × "
        f"{SEED_PLANS} plans; closed-loop loopback client, {STEP_S:g} s per step; p95 SLOs "
        f"from {source}: {', '.join(f'{op} {ms:g} ms' for op, ms in slos.items())}):"
    )
    stores: list[tuple[str, str | None]] = [("SQLite", None)]
    postgres = os.environ.get(POSTGRES_ENV)
    if postgres:
        stores.append(("PostgreSQL", postgres))
    for label, db in stores:
        with running_refflp(workers=workers, db=db, defects=defects, timeout_s=60) as base:
            t0 = time.perf_counter()
            clinics = seed(base)
            seeded = time.perf_counter() - t0
            best, steps = sustained(base, clinics, slos)
        print(
            f"  {label}: sustained {best:7.0f} req/s within the p95 SLOs "
            f"(seeded {SEED_CLINICS * SEED_PLANS} plans in {seeded:.1f} s)"
        )
        for step in steps:
            slowest = max(step.latencies_ms, key=step.p95, default="")
            print(
                f"    {step.clients:3d} clients {step.rate:7.0f} req/s  p95 {step.p95():7.1f} ms  "
                f"errors {step.errors}  (slowest: {slowest} p95 {step.p95(slowest):.1f} ms)"
                f"{'' if within(step, slos) else '  over an SLO'}"
            )
    if not postgres:
        print(f"  PostgreSQL skipped (set {POSTGRES_ENV}=postgresql://…)")
