"""The virtual FLP user: a clinic's staff and its patients, one FastHttpUser.

Each user owns a few synthetic patients (unique per worker and user, `bodies.user_patient`) at
one clinic. It first creates a plan for one of them, then runs the six operations weighted as
the plan says: create further plans, update one with If-Match, read a patient's plans through
Min Læge and Sundhedsjournalen, share one nationally, and query its clinic's cockpit. Every
answer is checked lightly (status, content type, JSON shape, its own ids in it); a wrong
answer is reported to Locust as a failure with the reason, never counted as a pass.

Pacing: after each request the user waits so that it starts one request every
users / rate seconds of the stage in force (`wait_time`), so the offered rate follows the
model whatever the latency, until latency itself exceeds the interval.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from locust import task
from locust.contrib.fasthttp import FastHttpUser

from harness.load import bodies
from harness.load.model import (
    COCKPIT_LIST,
    PLAN_CREATE,
    PLAN_READ_MINLAEGE,
    PLAN_READ_SUNDHED,
    PLAN_SHARE,
    PLAN_UPDATE,
)
from harness.load.plan import PACKAGES, LoadPlan, resolve_headers
from harness.load.swarm import runtime

API = "/flp/v1"
SNIPPET = 200  # characters of a wrong answer quoted in the failure
_numbers = itertools.count()  # user numbers within this process
_renderer: list[bodies.CpdRenderer] = []  # the compiled template, one per process
_headers: dict[str, dict[str, str]] = {}  # the plan's headers resolved once per process


def renderer() -> bodies.CpdRenderer:
    if not _renderer:
        _renderer.append(bodies.CpdRenderer())
    return _renderer[0]


def base_headers(plan: LoadPlan) -> dict[str, str]:
    if plan.base_url not in _headers:
        _headers[plan.base_url] = resolve_headers(plan.headers)
    return _headers[plan.base_url]


@dataclass
class OwnPlan:
    id: str
    version: int
    patient: bodies.Patient
    package: str


def quote(response: Any) -> str:
    """What the service answered, short: a problem document's title and detail, else the text."""
    text = (response.text or "")[:2000]
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and ("title" in doc or "detail" in doc):
        return f"{doc.get('title', '')}: {doc.get('detail', '')}"[:SNIPPET]
    return " ".join(text.split())[:SNIPPET] or "(empty body)"


def json_answer(resp: Any, op: str, status: int) -> dict[str, Any] | None:
    """The answer's JSON object when status and content type are right; else a failure."""
    if resp.status_code != status:
        said = f"no answer: {resp.error}" if not resp.status_code else quote(resp)
        resp.failure(f"{op}: expected HTTP {status}, got {resp.status_code}: {said}")
        return None
    ctype = str((resp.headers or {}).get("content-type") or "").split(";")[0].strip()
    if ctype != "application/json":
        resp.failure(f"{op}: expected application/json, got {ctype or 'no content type'}")
        return None
    try:
        doc = json.loads(resp.text or "")
    except ValueError:
        resp.failure(f"{op}: the answer is not JSON: {quote(resp)}")
        return None
    if not isinstance(doc, dict):
        resp.failure(f"{op}: the answer is not a JSON object: {quote(resp)}")
        return None
    return doc


def shape_problem(doc: dict[str, Any], fields: dict[str, type | tuple[type, ...]]) -> str:
    for name, kind in fields.items():
        value = doc.get(name)
        if isinstance(value, bool) or not isinstance(value, kind):
            return f"field {name!r} is {value!r}, expected {getattr(kind, '__name__', kind)}"
    return ""


class FlpUser(FastHttpUser):
    """One clinic's worth of FLP traffic; the host comes from --host (the plan's base URL)."""

    connection_timeout = 10.0
    network_timeout = 30.0

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.number = next(_numbers)
        runner = environment.runner
        self.worker = max(0, int(getattr(runner, "worker_index", 0) or 0))
        self.plans: list[OwnPlan] = []
        self.creates = 0
        self.task_started = time.monotonic()
        self.rng = random.Random()

    @property
    def plan(self) -> LoadPlan:
        plan = runtime.plan()
        if plan is None:
            raise RuntimeError("kcert: no load plan reached this process")
        return plan

    def on_start(self) -> None:
        plan = self.plan
        self.rng = random.Random(f"{plan.seed}/{self.worker}/{self.number}")
        global_user = self.worker * plan.max_users + self.number % plan.max_users
        self.clinic = bodies.clinic(global_user % plan.clinics)
        self.patients = [
            bodies.patient(
                bodies.user_patient(
                    plan.seed,
                    self.worker,
                    self.number,
                    slot,
                    plan.max_users,
                    plan.patients_per_user,
                )
            )
            for slot in range(plan.patients_per_user)
        ]
        self.ops = [op for op, weight in plan.weights.items() if weight > 0]
        self.op_weights = [plan.weights[op] for op in self.ops]
        self.headers = base_headers(plan)
        self.task_started = time.monotonic()
        self.create()

    def wait_time(self) -> float:
        plan = runtime.plan()
        if plan is None:
            return 1.0
        stage = plan.stage_at(runtime.elapsed_s()) or plan.stages[-1]
        if stage.rate_per_s <= 0 or stage.users <= 0:
            return 1.0
        interval = stage.users / stage.rate_per_s * self.rng.uniform(0.9, 1.1)
        return max(0.0, interval - (time.monotonic() - self.task_started))

    @task
    def step(self) -> None:
        self.task_started = time.monotonic()
        op = self.rng.choices(self.ops, self.op_weights)[0]
        if op == PLAN_CREATE or not self.plans:
            self.create()
        elif op == PLAN_UPDATE:
            self.update()
        elif op == PLAN_READ_MINLAEGE:
            self.read(PLAN_READ_MINLAEGE, "minlaege")
        elif op == PLAN_READ_SUNDHED:
            self.read(PLAN_READ_SUNDHED, "sundhedsjournalen")
        elif op == COCKPIT_LIST:
            self.cockpit()
        elif op == PLAN_SHARE:
            self.share()

    def _headers(self, **extra: str) -> dict[str, str]:
        return {**self.headers, **extra}

    def create(self) -> None:
        who = self.patients[self.creates % len(self.patients)]
        package = PACKAGES[(self.creates // len(self.patients)) % len(PACKAGES)]
        self.creates += 1
        body = renderer().render(who, self.clinic, package)
        with self.client.post(
            f"{API}/plans",
            data=body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=self._headers(
                **{"Content-Type": "application/xml", "X-Clinic": self.clinic.sor}
            ),
            name=PLAN_CREATE,
            catch_response=True,
        ) as resp:
            doc = json_answer(resp, PLAN_CREATE, 201)
            if doc is None:
                return
            problem = shape_problem(doc, {"id": str, "version": int})
            if problem:
                resp.failure(f"{PLAN_CREATE}: {problem}")
                return
            self.plans.append(OwnPlan(doc["id"], doc["version"], who, package))
            del self.plans[: -2 * len(self.patients)]  # keep the newest few

    def update(self) -> None:
        own = self.rng.choice(self.plans)
        body = renderer().render(own.patient, self.clinic, own.package, version=own.version + 1)
        with self.client.put(
            f"{API}/plans/{own.id}",
            data=body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=self._headers(
                **{
                    "Content-Type": "application/xml",
                    "X-Clinic": self.clinic.sor,
                    "If-Match": f'"{own.version}"',
                }
            ),
            name=PLAN_UPDATE,
            catch_response=True,
        ) as resp:
            doc = json_answer(resp, PLAN_UPDATE, 200)
            if doc is None:
                return
            problem = shape_problem(doc, {"id": str, "version": int})
            if not problem and doc["version"] <= own.version:
                problem = f"version {doc['version']} after an update of version {own.version}"
            if problem:
                resp.failure(f"{PLAN_UPDATE}: {problem}")
                return
            own.version = doc["version"]

    def read(self, op: str, channel: str) -> None:
        own = self.rng.choice(self.plans)
        with self.client.get(
            f"{API}/patients/{own.patient.cpr}/plans?channel={channel}",
            headers=self._headers(),
            name=op,
            catch_response=True,
        ) as resp:
            doc = json_answer(resp, op, 200)
            if doc is None:
                return
            problem = shape_problem(doc, {"patient": str, "channel": str, "plans": list})
            if not problem and doc["patient"] != own.patient.cpr:
                problem = "the answer is for another patient"
            if not problem and doc["channel"] != channel:
                problem = f"channel {doc['channel']!r}, asked for {channel!r}"
            if not problem and not any(
                isinstance(p, dict) and p.get("id") == own.id for p in doc["plans"]
            ):
                problem = f"the patient's plan {own.id} is not in the view"
            if problem:
                resp.failure(f"{op}: {problem}")

    def cockpit(self) -> None:
        package = self.rng.choice(PACKAGES)
        with self.client.get(
            f"{API}/clinics/{self.clinic.sor}/cockpit?package={package}&page=1&size=50",
            headers=self._headers(),
            name=COCKPIT_LIST,
            catch_response=True,
        ) as resp:
            doc = json_answer(resp, COCKPIT_LIST, 200)
            if doc is None:
                return
            problem = shape_problem(
                doc, {"clinic": str, "package": str, "total": int, "items": list}
            )
            if not problem and (doc["clinic"], doc["package"]) != (self.clinic.sor, package):
                asked = f"{self.clinic.sor}/{package}"
                problem = f"the list of {doc['clinic']}/{doc['package']}, asked for {asked}"
            if not problem and len(doc["items"]) > 50:
                problem = f"{len(doc['items'])} items on a page of 50"
            if problem:
                resp.failure(f"{COCKPIT_LIST}: {problem}")

    def share(self) -> None:
        own = self.rng.choice(self.plans)
        with self.client.post(
            f"{API}/plans/{own.id}/share",
            headers=self._headers(),
            name=PLAN_SHARE,
            catch_response=True,
        ) as resp:
            doc = json_answer(resp, PLAN_SHARE, 200)
            if doc is None:
                return
            problem = shape_problem(doc, {"plan": str, "document": str, "format": str})
            if not problem and doc["format"] != "DK-CPD":
                problem = f"format {doc['format']!r}, expected 'DK-CPD'"
            if not problem and doc["plan"] != own.id:
                problem = f"shared plan {doc['plan']!r}, asked for {own.id!r}"
            if problem:
                resp.failure(f"{PLAN_SHARE}: {problem}")
