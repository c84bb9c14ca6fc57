"""Live validation of recorded exchanges: each body judged by the validators of its kind.

A body's kind comes from the validators' own detection (`harness.validators.documents`):
JSON or XML in the FHIR namespace is FHIR ("fhir-message" for a Bundle of type message), a
ClinicalDocument is CDA, other XML is OIOXML (its schema chosen by the root element). The
installed packs judge it through `DocumentValidator`; whatever did not run (a pack missing,
a body not XML or JSON, a body cut at record_body_bytes) is a finding saying so, severity
OK, never silence. The worker is one thread with a bounded queue: when the queue is full the
exchange is stored with a finding that validation was skipped and why.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import zlib
from dataclasses import dataclass, replace
from typing import Any

from harness.checks.realcpr import mask_text
from harness.connectathon.api import StoreApi
from harness.connectathon.model import RecordedExchange
from harness.connectathon.proxy.rematch import StepAmendments
from harness.connectathon.proxy.rules import NOT_VALIDATED, PACKS, UNSAFE, VALIDATOR_ERROR
from harness.model.finding import Finding
from harness.safeparse import PayloadError, parse_json, parse_xml, sniff_format

log = logging.getLogger(__name__)

NOT_RUN = NOT_VALIDATED
PACK_MISSING = "PACK-MISSING"  # the validators' own word for a check a missing pack prevents
FHIR_NS = "{http://hl7.org/fhir}"
MAX_FINDINGS = 200  # per body: a broken document cannot fill the store
# The SUT's test-agent API (harness/contract/lps-test-agent-api.yaml): kcert is the client.
AGENT_PATH = "/kcert-agent/"
AGENT_REQUEST_NOTE = (
    "request body not validated: kcert's own call of the SUT's test-agent API "
    "(kcert's formats, not the SUT's payload); the answer is judged"
)


def is_agent_call(path: str) -> bool:
    """A request to the test-agent API, wherever the SUT mounts it (a prefix before it)."""
    return AGENT_PATH in path.split("?", 1)[0]


def finding(rule: str, severity: str, message: str, location: str = "") -> dict[str, Any]:
    return {"rule": rule, "severity": severity, "message": mask_text(message), "location": location}


def _from(found: Finding, direction: str) -> dict[str, Any]:
    where = found.location.describe()
    return finding(
        found.rule_id,
        found.severity.value,
        found.message,
        f"{direction}: {where}" if where else direction,
    )


@dataclass
class Originals:
    """The bodies as received (the stored copy may be masked): what validation judges."""

    request_body: bytes
    request_headers: dict[str, str]
    request_truncated: bool
    response_body: bytes
    response_headers: dict[str, str]
    response_truncated: bool


def _header(headers: dict[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _decoded(body: bytes, headers: dict[str, str], cap: int) -> bytes | str:
    """The body without its content coding, or the reason it cannot be had."""
    coding = _header(headers, "content-encoding").strip().lower()
    if coding in ("", "identity"):
        return body
    if coding not in ("gzip", "x-gzip", "deflate"):
        return f"content coding {coding!r} is not decoded by live validation"
    wbits = 16 + zlib.MAX_WBITS if "gzip" in coding else zlib.MAX_WBITS
    try:
        inflater = zlib.decompressobj(wbits)
        data = inflater.decompress(body, cap + 1)
    except zlib.error as exc:
        return f"the {coding} body does not decompress: {exc}"
    if len(data) > cap:
        return f"the {coding} body decompresses to more than {cap} bytes"
    return data


def kind_of(data: bytes, content_type: str) -> str:
    """fhir-message, fhir, cda, oioxml, or "" (neither XML nor JSON, or JSON that is not
    FHIR). PayloadError when the body is not safe to parse."""
    fmt = sniff_format(data, content_type)
    if fmt == "json":
        value = parse_json(data)
        if not isinstance(value, dict) or "resourceType" not in value:
            return ""
        if value.get("resourceType") == "Bundle" and value.get("type") == "message":
            return "fhir-message"
        return "fhir"
    if fmt != "xml":
        return ""
    root = parse_xml(data)
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag.startswith("{urn:hl7-org:v3}"):
        return "cda"
    if tag.startswith(FHIR_NS):
        if tag == f"{FHIR_NS}Bundle":
            kinds = root.findall(f"{FHIR_NS}type")
            if kinds and kinds[0].get("value") == "message":
                return "fhir-message"
        return "fhir"
    return "oioxml"


class LiveValidator:
    """The validators over the installed packs (KCERT_PACKS), built on first use."""

    def __init__(self, record_cap: int) -> None:
        self.record_cap = record_cap
        self._documents: Any = None

    def _validator(self) -> Any:
        if self._documents is None:
            from harness.packs.store import PackStore
            from harness.validators.documents import DocumentValidator

            self._documents = DocumentValidator(PackStore())
        return self._documents

    def judge(self, exchange: RecordedExchange, originals: Originals) -> RecordedExchange:
        """`exchange` with its kind, its findings and validated=True."""
        findings: list[dict[str, Any]] = list(exchange.findings)
        kinds: list[str] = []
        for direction, body, headers, truncated in (
            (
                "request",
                originals.request_body,
                originals.request_headers,
                originals.request_truncated,
            ),
            (
                "response",
                originals.response_body,
                originals.response_headers,
                originals.response_truncated,
            ),
        ):
            if not body:
                continue
            if direction == "request" and is_agent_call(exchange.path):
                # kcert's own call of the SUT's test agent (a population to load, a send to
                # trigger): kcert wrote it in kcert's formats, so it says nothing about the
                # SUT; what the SUT answers is still judged.
                findings.append(finding(NOT_RUN, "OK", AGENT_REQUEST_NOTE, direction))
                continue
            kind, found = self._body(direction, body, headers, truncated)
            if kind:
                kinds.append(kind)
            findings += found
        if not originals.request_body and not originals.response_body:
            findings.append(finding(NOT_RUN, "OK", "nothing to validate: no body either way", ""))
        return replace(exchange, kind=kinds[0] if kinds else "", findings=findings, validated=True)

    def _body(
        self, direction: str, body: bytes, headers: dict[str, str], truncated: bool
    ) -> tuple[str, list[dict[str, Any]]]:
        content_type = _header(headers, "content-type")
        if truncated:
            return "", [
                finding(
                    NOT_RUN,
                    "OK",
                    f"{direction} body not validated: larger than record_body_bytes "
                    f"({self.record_cap}), only its start is recorded",
                    direction,
                )
            ]
        data = _decoded(body, headers, self.record_cap)
        if isinstance(data, str):
            return "", [
                finding(NOT_RUN, "OK", f"{direction} body not validated: {data}", direction)
            ]
        try:
            kind = kind_of(data, content_type)
        except PayloadError as exc:
            return "", [
                finding(UNSAFE, "F2", f"{direction} body cannot be read safely: {exc}", direction)
            ]
        if not kind:
            shown = content_type or "no Content-Type"
            return "", [
                finding(
                    NOT_RUN,
                    "OK",
                    f"{direction} body not validated: not FHIR, CDA or OIOXML ({shown})",
                    direction,
                )
            ]
        return kind, self._run(direction, data, kind)

    def _run(self, direction: str, data: bytes, kind: str) -> list[dict[str, Any]]:
        from harness.validators.api import ValidatorContext
        from harness.validators.documents import PackProblem, UnusableInput

        # no evidence name: a finding's location is the direction and the path inside the body
        context = ValidatorContext("", kind="fhir" if kind.startswith("fhir") else kind)
        out: list[dict[str, Any]] = []
        try:
            for found in self._validator().iter_findings(data, context):
                if len(out) == MAX_FINDINGS:
                    out.append(
                        finding(
                            NOT_RUN,
                            "OK",
                            f"{direction}: more than {MAX_FINDINGS} findings, the rest not kept",
                            direction,
                        )
                    )
                    break
                out.append(_from(found, direction))
        except UnusableInput as exc:
            return [
                finding(UNSAFE, "F2", f"{direction} body cannot be read safely: {exc}", direction)
            ]
        except PackProblem as exc:
            out.append(
                finding(
                    VALIDATOR_ERROR,
                    "OK",
                    f"{direction}: not run: an installed pack does not load ({exc})",
                    direction,
                )
            )
        for note in context.not_run:
            out.append(finding(PACK_MISSING, "OK", f"{direction}: not run: {note}", direction))
        if context.packs:
            used = ", ".join(f"{p.id}#{p.version}" for p in context.packs)
            out.append(finding(PACKS, "OK", f"{direction} judged with {used}", direction))
        return out


_STOP = object()


class ValidationWorker:
    """One thread judging recorded exchanges from a bounded queue, storing each result."""

    def __init__(
        self,
        store: StoreApi,
        capacity: int,
        record_cap: int,
        amendments: StepAmendments | None = None,
    ) -> None:
        self.store = store
        self.amendments = amendments or StepAmendments()
        self.capacity = capacity
        self.validator = LiveValidator(record_cap)
        self.queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self.thread = threading.Thread(target=self._run, name="kcert-proxy-validate", daemon=True)
        self.validated = 0
        self.failures = 0

    def start(self) -> None:
        self.thread.start()

    def offer(self, exchange: RecordedExchange, originals: Originals) -> bool:
        """Queue `exchange` for validation; False when the queue is full."""
        try:
            self.queue.put_nowait((exchange, originals))
        except queue.Full:
            return False
        return True

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                self.queue.task_done()
                return
            assert isinstance(item, tuple)
            exchange, originals = item
            self._judge(exchange, originals)
            self.queue.task_done()

    def _judge(self, exchange: RecordedExchange, originals: Originals) -> None:
        try:
            judged = self.validator.judge(exchange, originals)
        except Exception as exc:  # kcert's fault: said on the exchange, the worker goes on
            log.exception("live validation of %s failed", exchange.exchange_id)
            judged = replace(
                exchange,
                findings=[
                    *exchange.findings,
                    finding(
                        VALIDATOR_ERROR,
                        "OK",
                        f"validation not run: kcert's validator failed: {exc}",
                    ),
                ],
            )
        try:
            with self.amendments.lock:  # a step found meanwhile stays (rematch.py)
                self.store.record_exchange(self.amendments.apply(judged))
            self.validated += 1
        except Exception:  # the store is down: counted, the proxy keeps forwarding
            self.failures += 1
            log.exception("storing the validation of %s failed", exchange.exchange_id)

    def stop(self, timeout: float) -> None:
        """Drain the queue for at most `timeout` s; what is left is stored as skipped."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.queue.put(_STOP, timeout=max(deadline - time.monotonic(), 0.01))
                break
            except queue.Full:
                if time.monotonic() >= deadline:
                    break
        self.thread.join(max(deadline - time.monotonic(), 0.01))
        left: list[RecordedExchange] = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple):
                left.append(item[0])
        with contextlib.suppress(queue.Full):
            self.queue.put_nowait(_STOP)  # a worker still busy ends after its exchange
        for exchange in left:
            skipped = skipped_finding("the proxy stopped before validation ran")
            try:
                with self.amendments.lock:
                    self.store.record_exchange(
                        self.amendments.apply(
                            replace(exchange, findings=[*exchange.findings, skipped])
                        )
                    )
            except Exception:
                self.failures += 1


def skipped_finding(why: str) -> dict[str, Any]:
    return finding(NOT_RUN, "OK", f"validation skipped: {why}")
