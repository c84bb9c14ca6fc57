"""The correctness preflight: each FLP operation once against the target, before any load.

Runs in kcert's own process with `requests` (never Locust). A service that answers wrongly
under no load would only make the load figures meaningless, so a failed check stops the run
before Locust starts. Each check quotes the service's own answer when it fails; an
unreachable target is a check with status None. Every request has a bounded timeout.

The checks, in order (later ones need the plan the first creates):
plan-create (201 {id, version}; the plan readable back as the DK-CPD that was sent),
plan-update (If-Match, 200 with a higher version), plan-read-minlaege and plan-read-sundhed
(the patient's view lists the plan), cockpit-list (the clinic's list has the plan),
plan-share (200 format DK-CPD; the shared document fetched and parsed as a DK-CPD CDA).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import requests

from harness.load import bodies
from harness.load.model import (
    COCKPIT_LIST,
    OPERATIONS,
    PLAN_CREATE,
    PLAN_READ_MINLAEGE,
    PLAN_READ_SUNDHED,
    PLAN_SHARE,
    PLAN_UPDATE,
    PreflightCheck,
    Target,
)
from harness.load.plan import resolve_headers
from harness.safeparse import Limits, PayloadError, parse_xml

API = "/flp/v1"
TIMEOUT_S = (5.0, 15.0)  # connect, read
QUOTE = 300
V3 = {"v3": "urn:hl7-org:v3"}
CPR_ROOT = "1.2.208.176.1.2"
CPD_TEMPLATE = "1.2.208.184.15.1"
CPD_CODE = "81215-6"
DOC_LIMITS = Limits(max_bytes=10 * 1024 * 1024, max_depth=128)


class _Failed(Exception):
    def __init__(self, status: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def quote(response: requests.Response) -> str:
    """The service's own words: a problem document's title and detail, else the body's start."""
    text = response.text[:4000] if response.content else ""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and ("title" in doc or "detail" in doc):
        return f'"{doc.get("title", "")}: {doc.get("detail", "")}"'[:QUOTE]
    shown = " ".join(text.split())[:QUOTE]
    return f'"{shown}"' if shown else "(empty body)"


def _ctype(response: requests.Response) -> str:
    return (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()


def _expect(response: requests.Response, status: int, ctype: str) -> None:
    if response.status_code != status:
        raise _Failed(
            response.status_code,
            f"expected HTTP {status}, got {response.status_code}: {quote(response)}",
        )
    got = _ctype(response)
    if got != ctype:
        raise _Failed(
            response.status_code,
            f"expected {ctype}, got {got or 'no Content-Type'}: {quote(response)}",
        )


def _json(response: requests.Response, status: int, fields: dict[str, type]) -> dict[str, Any]:
    _expect(response, status, "application/json")
    try:
        doc = response.json()
    except ValueError:
        raise _Failed(status, f"the answer is not JSON: {quote(response)}") from None
    if not isinstance(doc, dict):
        raise _Failed(status, f"the answer is not a JSON object: {quote(response)}")
    for name, kind in fields.items():
        value = doc.get(name)
        if isinstance(value, bool) or not isinstance(value, kind):
            raise _Failed(
                status, f"field {name!r} is {value!r}, expected {kind.__name__}: {quote(response)}"
            )
    return doc


def _cpd_problem(data: bytes, cpr: str) -> str:
    """Why `data` is not the DK-CPD care plan of `cpr`, or ""."""
    try:
        root = parse_xml(data, DOC_LIMITS)
    except PayloadError as exc:
        return f"not well-formed XML: {exc}"
    if root.tag != "{urn:hl7-org:v3}ClinicalDocument":
        return f"root element {root.tag}, expected a CDA ClinicalDocument"
    if not root.xpath(f"v3:templateId[@root='{CPD_TEMPLATE}']", namespaces=V3) and not root.xpath(
        f"v3:code[@code='{CPD_CODE}']", namespaces=V3
    ):
        return f"no DK-CPD templateId {CPD_TEMPLATE} and no care plan code {CPD_CODE}"
    found = root.xpath(
        f"string(v3:recordTarget/v3:patientRole/v3:id[@root='{CPR_ROOT}']/@extension)",
        namespaces=V3,
    )
    if found != cpr:
        return "the document's patient (recordTarget CPR) is not the plan's patient"
    return ""


class Preflight:
    """One preflight against one target; `run()` gives one check per operation."""

    def __init__(self, target: Target, seed: int = 0, timeout_s: tuple[float, float] = TIMEOUT_S):
        self.base = target.base_url.rstrip("/")
        self.timeout = timeout_s
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy from the environment between kcert and target
        self.session.headers.update(resolve_headers(target.headers))
        rng = random.Random(f"preflight/{seed}")
        self.renderer = bodies.CpdRenderer(rng=rng)
        self.patient = bodies.patient(rng.randrange(bodies.PREFLIGHT_BLOCK))
        self.clinic = bodies.clinic(0)
        self.package = "kol"
        self.plan_id = ""
        self.version = 0

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(
                method, self.base + path, timeout=self.timeout, allow_redirects=False, **kwargs
            )
        except requests.RequestException as exc:
            raise _Failed(
                None, f"no answer from {self.base}: {type(exc).__name__}: {exc}"
            ) from None

    def run(self) -> list[PreflightCheck]:
        steps: list[tuple[str, str, str, Callable[[], None]]] = [
            (PLAN_CREATE, "POST", f"{API}/plans", self.create),
            (PLAN_UPDATE, "PUT", f"{API}/plans/{{id}}", self.update),
            (
                PLAN_READ_MINLAEGE,
                "GET",
                f"{API}/patients/{{cpr}}/plans?channel=minlaege",
                lambda: self.view("minlaege"),
            ),
            (
                PLAN_READ_SUNDHED,
                "GET",
                f"{API}/patients/{{cpr}}/plans?channel=sundhedsjournalen",
                lambda: self.view("sundhedsjournalen"),
            ),
            (COCKPIT_LIST, "GET", f"{API}/clinics/{{sor}}/cockpit", self.cockpit),
            (PLAN_SHARE, "POST", f"{API}/plans/{{id}}/share", self.share),
        ]
        checks: list[PreflightCheck] = []
        try:
            for op, method, path, step in steps:
                url = self.base + path.replace("{cpr}", "<synthetic CPR>").replace(
                    "{sor}", self.clinic.sor
                ).replace("{id}", self.plan_id or "<plan>")
                if checks and not self.plan_id:
                    checks.append(
                        PreflightCheck(
                            op, False, method, url, None, "not tried: no plan was created"
                        )
                    )
                    continue
                started = time.perf_counter()
                try:
                    step()
                    status: int | None = self.last_status
                    ok, message = True, ""
                except _Failed as exc:
                    status, ok, message = exc.status, False, exc.message
                elapsed = (time.perf_counter() - started) * 1000
                checks.append(PreflightCheck(op, ok, method, url, status, message, elapsed))
                if status is None:  # unreachable: the rest would say the same
                    for rest_op, rest_method, rest_path, _ in steps[len(checks) :]:
                        checks.append(
                            PreflightCheck(
                                rest_op,
                                False,
                                rest_method,
                                self.base + rest_path,
                                None,
                                "not tried: the target did not answer",
                            )
                        )
                    break
        finally:
            self.session.close()
        assert [c.operation for c in checks] == list(OPERATIONS)
        return checks

    last_status: int | None = None

    def _note(self, response: requests.Response) -> requests.Response:
        self.last_status = response.status_code
        return response

    def create(self) -> None:
        body = self.renderer.render(self.patient, self.clinic, self.package)
        answer = self._note(
            self._send(
                "POST",
                f"{API}/plans",
                data=body,
                headers={"Content-Type": "application/xml", "X-Clinic": self.clinic.sor},
            )
        )
        doc = _json(answer, 201, {"id": str, "version": int})
        plan_id, version = doc["id"], doc["version"]
        back = self._send("GET", f"{API}/plans/{plan_id}")
        try:
            _expect(back, 200, "application/xml")
        except _Failed as exc:
            raise _Failed(
                exc.status, f"the created plan {plan_id} is not readable back: {exc.message}"
            ) from None
        problem = _cpd_problem(back.content, self.patient.cpr)
        if problem:
            raise _Failed(back.status_code, f"the created plan read back: {problem}")
        etag = back.headers.get("ETag", "").strip('"').removeprefix('W/"')
        if etag and etag != str(version):
            raise _Failed(
                back.status_code,
                f"ETag {etag!r} of the plan read back, created as version {version}",
            )
        self.plan_id, self.version = plan_id, version

    def update(self) -> None:
        body = self.renderer.render(
            self.patient, self.clinic, self.package, version=self.version + 1
        )
        answer = self._note(
            self._send(
                "PUT",
                f"{API}/plans/{self.plan_id}",
                data=body,
                headers={
                    "Content-Type": "application/xml",
                    "X-Clinic": self.clinic.sor,
                    "If-Match": f'"{self.version}"',
                },
            )
        )
        doc = _json(answer, 200, {"id": str, "version": int})
        if doc["version"] <= self.version:
            raise _Failed(200, f"version {doc['version']} after updating version {self.version}")
        self.version = doc["version"]

    def view(self, channel: str) -> None:
        answer = self._note(
            self._send(
                "GET", f"{API}/patients/{self.patient.cpr}/plans", params={"channel": channel}
            )
        )
        doc = _json(answer, 200, {"patient": str, "channel": str, "plans": list})
        if doc["patient"] != self.patient.cpr or doc["channel"] != channel:
            raise _Failed(200, f"the view is of another patient or channel ({doc['channel']!r})")
        if not any(isinstance(p, dict) and p.get("id") == self.plan_id for p in doc["plans"]):
            raise _Failed(
                200, f"the patient's new plan {self.plan_id} is not in the {channel} view"
            )

    def cockpit(self) -> None:
        answer = self._note(
            self._send(
                "GET",
                f"{API}/clinics/{self.clinic.sor}/cockpit",
                params={"package": self.package, "page": 1, "size": 50},
            )
        )
        doc = _json(answer, 200, {"clinic": str, "package": str, "total": int, "items": list})
        if (doc["clinic"], doc["package"]) != (self.clinic.sor, self.package):
            asked = f"{self.clinic.sor}/{self.package}"
            raise _Failed(200, f"the list of {doc['clinic']}/{doc['package']}, asked for {asked}")
        if doc["total"] < 1 or len(doc["items"]) > 50:
            raise _Failed(
                200, f"total {doc['total']} with {len(doc['items'])} items on a page of 50"
            )

    def share(self) -> None:
        answer = self._note(self._send("POST", f"{API}/plans/{self.plan_id}/share"))
        doc = _json(answer, 200, {"plan": str, "document": str, "format": str})
        if doc["format"] != "DK-CPD":
            raise _Failed(200, f"shared as {doc['format']!r}, expected DK-CPD: {quote(answer)}")
        if doc["plan"] != self.plan_id:
            raise _Failed(200, f"shared plan {doc['plan']!r}, asked for {self.plan_id}")
        shared = self._send("GET", f"{API}/shared/{doc['document']}")
        try:
            _expect(shared, 200, "application/xml")
        except _Failed as exc:
            raise _Failed(
                exc.status, f"the shared document {doc['document']}: {exc.message}"
            ) from None
        problem = _cpd_problem(shared.content, self.patient.cpr)
        if problem:
            raise _Failed(200, f"the shared document {doc['document']}: {problem}")


def run_preflight(target: Target, seed: int = 0) -> list[PreflightCheck]:
    """Each operation once against `target`: one PreflightCheck per operation, in order."""
    return Preflight(target, seed).run()
