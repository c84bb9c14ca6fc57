"""No real CPR number in a dossier: find CPR-shaped numbers a SUT sends kcert and mask them.

A SUT may only ever see and echo kcert's synthetic test persons (harness.synthetic). Any
other number that has the shape of a CPR number - DDMMYY-XXXX or DDMMYYXXXX encoding a real
calendar date under CPR's century rules - is treated as a possibly real person: the step gets
an F2 finding `REAL-CPR`, and the number is masked as DDMMYY-xxxx before the exchange enters
the run's record, so evidence files, results.json, Allure, the reports and the run store only
ever hold masked bytes. The SHA-256 of the original bytes is kept on the exchange (`masked`),
so the masked evidence stays verifiable as masked. Strict masking (final certifications)
keeps no body at all: only its hash and the finding.

Masking happens after the step's checks have judged the original bytes, so a verdict never
depends on the masking itself (a masked JSON number would no longer parse, for instance).
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, replace

from harness.model.exchange import Exchange
from harness.model.finding import Finding, Location
from harness.model.outcome import Outcome, Severity
from harness.model.result import StepResult
from harness.safeparse import PayloadError, parse_json
from harness.synthetic import birth_date, is_synthetic_cpr

RULE = "REAL-CPR"
MAX_FINDINGS_PER_BODY = 10  # one finding per place, bounded; the rest are counted

# Word-bounded: not part of a longer digit or letter run (GLN, SOR ids, UUID hex, epoch
# milliseconds), not a decimal fraction, not one group of a longer dashed digit sequence.
_CANDIDATE = re.compile(
    rb"(?<![0-9A-Za-z])(?<!\d[.,])(?<!\d-)"
    rb"(\d{6})(-?)(\d{4})"
    rb"(?![0-9A-Za-z])(?![.,]\d)(?!-\d)"
)


@dataclass(frozen=True)
class Hit:
    offset: int  # byte offset of the number in the original body
    masked: str  # DDMMYY-xxxx


def find_real_cprs(body: bytes) -> list[Hit]:
    """Every CPR-shaped number in `body` that is not one of kcert's synthetic persons."""
    if not body:
        return []
    strings: list[tuple[int, int]] | None = None
    looked = False
    hits: list[Hit] = []
    for match in _CANDIDATE.finditer(body):
        digits = (match.group(1) + match.group(3)).decode("ascii")
        if birth_date(digits) is None or is_synthetic_cpr(digits):
            continue
        if not match.group(2):
            if not looked:  # parsed once, and only for a body with a candidate
                strings, looked = _json_number_spans(body), True
            if strings is not None and not _inside(match.start(), strings):
                continue  # a JSON number (an epoch timestamp, a count), not an identifier
        hits.append(Hit(match.start(), f"{digits[:6]}-xxxx"))
    return hits


def mask_real_cprs(body: bytes) -> bytes:
    """`body` with every real-format CPR number replaced by DDMMYY-xxxx."""
    offsets = {hit.offset for hit in find_real_cprs(body)}
    if not offsets:
        return body
    return _CANDIDATE.sub(
        lambda m: (m.group(1) + b"-xxxx") if m.start() in offsets else m.group(0), body
    )


def mask_text(text: str) -> str:
    """Text (finding messages that quote a SUT, console lines) with real CPR numbers masked."""
    raw = text.encode("utf-8", "surrogatepass")
    masked = mask_real_cprs(raw)
    return text if masked is raw else masked.decode("utf-8", "surrogatepass")


def guard_step(sresult: StepResult, step_id: str, strict: bool = False) -> None:
    """Mask what the SUT sent in every exchange of a judged step; add a REAL-CPR per place.

    This is the one point where a step's exchanges enter the run's record: everything that
    writes evidence, reports or the store reads them from the step result afterwards. A
    masked exchange is a copy, so what judges later steps in memory is left as it was.
    """
    added: list[Finding] = []
    kept: list[Exchange] = []
    for exchange in sresult.exchanges:
        masked, found = _guard_exchange(exchange, step_id, strict)
        masked, around = _guard_envelope(masked, step_id)
        kept.append(masked)
        added.extend(found + around)
    sresult.exchanges = kept
    # A check or an error message may quote the SUT's own words: never the number either.
    sresult.findings = [_masked_finding(f) for f in sresult.findings] + added
    sresult.message = mask_text(sresult.message)
    if added and sresult.outcome in (Outcome.PASS, Outcome.SKIP):
        sresult.outcome = Outcome.FAIL  # an error stays an error: kcert's fault wins


def _guard_exchange(
    exchange: Exchange, step_id: str, strict: bool
) -> tuple[Exchange, list[Finding]]:
    direction = "R"  # what kcert received: the SUT's answer, or what it sent kcert's peer
    body = exchange.received_by_kcert
    hits = find_real_cprs(body)
    if not hits and direction in exchange.masked:
        return exchange, [_as_recorded(exchange, direction, step_id)]
    if not hits:
        return exchange, []
    digest = hashlib.sha256(body).hexdigest()
    kept_body = b"" if strict else mask_real_cprs(body)
    masked = replace(
        exchange,
        evidence=dict(exchange.evidence),
        masked={**exchange.masked, direction: digest},
        withheld=[*exchange.withheld, direction] if strict else list(exchange.withheld),
        request_body=kept_body if exchange.inbound else exchange.request_body,
        response_body=exchange.response_body if exchange.inbound else kept_body,
    )
    where = exchange.evidence.get(direction, "")
    how = (
        "the body was not stored (strict CPR masking)"
        if strict
        else "masked as DDMMYY-xxxx in the evidence"
    )
    findings = [
        Finding(
            RULE,
            Severity.F2,
            f"the SUT sent a CPR-shaped number outside kcert's synthetic range "
            f"({hit.masked}, byte {hit.offset}); only synthetic test persons may be used; "
            f"{how}; SHA-256 of the original body {digest}",
            Location(str(hit.offset), "byte-offset", evidence=where),
            step_id,
        )
        for hit in hits[:MAX_FINDINGS_PER_BODY]
    ]
    if len(hits) > MAX_FINDINGS_PER_BODY:
        findings.append(
            Finding(
                RULE,
                Severity.F2,
                f"{len(hits) - MAX_FINDINGS_PER_BODY} more CPR-shaped numbers outside the "
                f"synthetic range in the same body",
                Location("", "byte-offset", evidence=where),
                step_id,
            )
        )
    return masked, findings


def _guard_envelope(exchange: Exchange, step_id: str) -> tuple[Exchange, list[Finding]]:
    """The rest of what the SUT chose: its headers, the URL it called kcert's peer at, and
    transport errors quoting it. Masked in place of the copy; one finding per place."""
    received = exchange.request_headers if exchange.inbound else exchange.response_headers
    places = {f"header {name}": value for name, value in received.items()}
    if exchange.inbound:
        places["url"] = exchange.url
    places["error"] = exchange.error
    where = exchange.evidence.get("R", "")
    findings = [
        Finding(
            RULE,
            Severity.F2,
            f"the SUT sent a CPR-shaped number outside kcert's synthetic range in the {place} "
            f"({', '.join(h.masked for h in hits)}); only synthetic test persons may be used; "
            f"masked as DDMMYY-xxxx",
            Location(place, "http", evidence=where),
            step_id,
        )
        for place, value in places.items()
        if (hits := find_real_cprs(value.encode("utf-8", "surrogatepass")))
    ]
    if not findings:
        return exchange, []
    headers = {name: mask_text(value) for name, value in received.items()}
    return replace(
        exchange,
        url=mask_text(exchange.url) if exchange.inbound else exchange.url,
        error=mask_text(exchange.error),
        request_headers=headers if exchange.inbound else exchange.request_headers,
        response_headers=exchange.response_headers if exchange.inbound else headers,
    ), findings


def _as_recorded(exchange: Exchange, direction: str, step_id: str) -> Finding:
    """A re-judged run replays bytes masked when they were recorded: the finding stays."""
    how = "withheld" if direction in exchange.withheld else "masked"
    return Finding(
        RULE,
        Severity.F2,
        f"the recorded run's SUT sent a CPR-shaped number outside kcert's synthetic range; "
        f"the body was {how} before it was stored; SHA-256 of the original body "
        f"{exchange.masked[direction]}",
        Location("", "byte-offset", evidence=exchange.evidence.get(direction, "")),
        step_id,
    )


def _masked_finding(finding: Finding) -> Finding:
    """A check may quote the SUT's own words: the quote must not carry the number either."""
    message = mask_text(finding.message)
    path = mask_text(finding.location.path)
    if message == finding.message and path == finding.location.path:
        return finding
    loc = finding.location
    return Finding(
        finding.rule_id,
        finding.severity,
        message,
        Location(path, loc.language, loc.line, loc.evidence),
        finding.step_id,
        finding.waiver,
    )


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def _json_number_spans(body: bytes) -> list[tuple[int, int]] | None:
    """For a JSON body, the spans of its strings (what is outside is a number or syntax).

    None when the body is not JSON: then every match counts.
    """
    if body.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        parse_json(body)
    except PayloadError:
        return None
    return [m.span() for m in _JSON_STRING.finditer(body)]


def _inside(offset: int, spans: list[tuple[int, int]]) -> bool:
    index = bisect.bisect_right([start for start, _ in spans], offset) - 1
    return index >= 0 and offset < spans[index][1]
