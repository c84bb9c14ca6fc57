"""Care plans shared as DK-CPD: submission, schema, schematron, kcert's rules, metadata,
content against the oracle, and versioning. The document arrives at kcert's repository peer;
the share step hands the submission over in its notes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from harness.checks.cpd_facts import (
    CLASS_CODE,
    CPD_CODE,
    CPD_TEMPLATE,
    CPR_ROOT,
    FORMAT_CODE,
    GOAL_OBSERVATION,
    GOALS_SECTION,
    KCERT_CODES,
    LOINC,
    NS,
    SECTIONS,
    SOR_ROOT,
    SUBMISSION_NOTE,
    CpdFacts,
    Result,
    Submission,
    SubmissionError,
    parse_ts,
    read_cpd,
    read_submission,
)
from harness.checks.diagnostics import with_quote
from harness.checks.oracle_view import oracle_at
from harness.checks.registry import ANSWER, CHECKS, DELIVERY, CheckContext, NotEvaluated
from harness.dates import window_start
from harness.model.exchange import Exchange
from harness.model.finding import Finding, Location
from harness.oracle.engine import latest_measurement
from harness.packs.store import Pack, PackStore
from harness.safeparse import PayloadError

NO_PARAMS: dict[str, Any] = {"type": "object", "additionalProperties": False}


def _submission(notes: dict[str, Any]) -> Submission | None:
    body = notes.get(SUBMISSION_NOTE)
    if not isinstance(body, bytes):
        return None
    try:
        return read_submission(body)
    except SubmissionError:
        return None


def _facts(notes: dict[str, Any]) -> CpdFacts | None:
    """The shared document, or None (plan-shared names why there is none)."""
    submission = _submission(notes)
    if submission is None:
        return None
    try:
        facts = read_cpd(submission.document)
    except PayloadError:
        return None
    return facts if facts.root.tag == "{urn:hl7-org:v3}ClinicalDocument" else None


def _delivered(ctx: CheckContext) -> Exchange:
    """The SUT's last delivery to kcert's repository (or, without one, the step's answer)."""
    arrived = ctx.inbound()
    return arrived[-1] if arrived else ctx.exchange


def _peer_evidence(ctx: CheckContext) -> str:
    return _delivered(ctx).evidence.get("R", "")


def _at(ctx: CheckContext, rule: str, message: str, path: str, language: str = "xpath") -> Finding:
    return ctx.finding_on(_delivered(ctx), rule, message, path, language)


@CHECKS.register("plan-shared", NO_PARAMS)
def plan_shared(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The SUT took the share request and delivered one readable CDA document with metadata."""
    if ctx.exchange.status != 200:
        # A refused share request delivers nothing: one finding, the document not judged.
        yield ctx.bad_status("200", "SHARE-HTTP", "the share request", (ANSWER, DELIVERY))
        return
    got = _document(ctx)
    if isinstance(got, Finding):
        yield got


def _document(ctx: CheckContext) -> tuple[Submission, CpdFacts] | Finding:
    """The delivered submission and document, or the root finding why there is none.

    Raises NotEvaluated when nothing arrived because the share request itself already failed
    in this step (that finding is the root)."""
    body = ctx.notes.get(SUBMISSION_NOTE)
    if not isinstance(body, bytes):
        if ANSWER in ctx.roots:
            raise NotEvaluated("nothing arrived to judge", ctx.roots[ANSWER])
        message = with_quote(
            "nothing arrived at kcert's document repository for this share request (the "
            f"request was answered HTTP {ctx.exchange.status})",
            ctx.exchange,
        )
        return ctx.root(ctx.finding("REPO-NONE", message, "", "http"), DELIVERY)
    try:
        submission = read_submission(body)
    except SubmissionError as exc:
        found = _at(
            ctx,
            "REPO-FORMAT",
            f"the repository submission breaks the contract: {exc}",
            "",
            "json-pointer",
        )
        return ctx.root(found, DELIVERY)
    try:
        facts = read_cpd(submission.document)
    except PayloadError as exc:
        found = _at(
            ctx,
            "CPD-PARSE",
            f"the shared document is not usable XML: {exc}",
            "/document",
            "json-pointer",
        )
        return ctx.root(found, DELIVERY)
    if facts.root.tag != "{urn:hl7-org:v3}ClinicalDocument":
        found = _at(
            ctx,
            "CPD-PARSE",
            f"the shared document is not a CDA ClinicalDocument but {facts.root.tag!r}",
            "/document",
            "json-pointer",
        )
        return ctx.root(found, DELIVERY)
    return submission, facts


def _delivered_facts(ctx: CheckContext) -> CpdFacts | Finding:
    got = _document(ctx)
    return got if isinstance(got, Finding) else got[1]


# ---- validation packs ------------------------------------------------------------------------

_XSD: dict[str, Any] = {}
_SCH: dict[str, Any] = {}


def _pack_missing(ctx: CheckContext, kind: str, what: str) -> Finding:
    return ctx.pack_missing(_delivered(ctx), kind, what)


def _xsd(pack: Pack) -> Any:
    from harness.validators.xsd import XsdValidator

    if pack.sha256 not in _XSD:
        _XSD[pack.sha256] = XsdValidator(pack)
    return _XSD[pack.sha256]


def _schematron(pack: Pack) -> Any:
    from harness.validators.schematron import SchematronValidator

    if pack.sha256 not in _SCH:
        _SCH[pack.sha256] = SchematronValidator.from_pack(pack)
    return _SCH[pack.sha256]


def _restated(ctx: CheckContext, found: Finding, rule: str) -> Finding:
    """A validator's finding under kcert's rule id; errors carry the case's severity."""
    severity = ctx.severity if found.severity.blocks_approval else found.severity
    return Finding(
        rule,
        severity,
        f"{found.rule_id}: {found.message}",
        Location(found.location.path, "xpath", found.location.line, _peer_evidence(ctx)),
        ctx.step_id,
    )


@CHECKS.register("cpd-schema", NO_PARAMS)
def cpd_schema(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The shared document against the CDA R2 XML Schema from the installed pack."""
    facts = _delivered_facts(ctx)
    if isinstance(facts, Finding):
        yield facts
        return
    packs = PackStore().of_kind("cda-schema")
    if not packs:
        yield _pack_missing(ctx, "cda-schema", "the CDA XML Schema")
        return
    for found in _xsd(packs[-1]).iter_findings(facts.root, _peer_evidence(ctx)):
        yield _restated(ctx, found, "CPD-XSD")


@CHECKS.register("cpd-schematron", NO_PARAMS)
def cpd_schematron(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The shared document against the schematrons (MedCom ART-DECOR) that apply to it."""
    facts = _delivered_facts(ctx)
    if isinstance(facts, Finding):
        yield facts
        return
    ran = False
    for pack in PackStore().of_kind("schematron"):
        validator = _schematron(pack)
        if not validator.schematrons_for(facts.root):
            continue
        ran = True
        for found in validator.validate(facts.root, _peer_evidence(ctx)):
            yield _restated(ctx, found, "CPD-SCHEMATRON")
    if not ran:
        yield _pack_missing(ctx, "schematron", f"the DK-CPD schematron ({CPD_TEMPLATE})")


# ---- kcert's own rules -----------------------------------------------------------------------


def _has(facts: CpdFacts, xpath: str) -> bool:
    found = facts.root.xpath(xpath, namespaces=NS)
    return bool(found)


@CHECKS.register("cpd-rules", NO_PARAMS)
def cpd_rules(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """kcert's built-in DK-CPD rules: they run with or without packs."""
    facts = _delivered_facts(ctx)
    if isinstance(facts, Finding):
        yield facts
        return
    if not _has(facts, f"v3:templateId[@root='{CPD_TEMPLATE}']"):
        yield _at(
            ctx,
            "CPD-TEMPLATE",
            f"no DK-CPD templateId {CPD_TEMPLATE}",
            "/ClinicalDocument/templateId",
        )
    if facts.one("v3:code/@code") != CPD_CODE or facts.one("v3:code/@codeSystem") != LOINC:
        yield _at(
            ctx,
            "CPD-CODE",
            f"document code is {facts.one('v3:code/@code')!r} in "
            f"{facts.one('v3:code/@codeSystem')!r}; a care plan is LOINC {CPD_CODE}",
            "/ClinicalDocument/code",
        )
    ids = facts.patient_ids
    if not any(root == CPR_ROOT and len(ext) == 10 and ext.isdecimal() for root, ext in ids):
        shown = ", ".join(f"root {r!r}" for r, _ in ids) or "no id"
        yield _at(
            ctx,
            "CPD-PATIENT-ID",
            f"the patient is not identified by CPR (root {CPR_ROOT}, 10 digits): {shown}",
            "/ClinicalDocument/recordTarget/patientRole/id",
        )
    author = "v3:author/v3:assignedAuthor"
    if not _has(
        facts,
        f"{author}/v3:id[@root='{SOR_ROOT}'][@extension!=''] | "
        f"{author}/v3:representedOrganization/v3:id[@root='{SOR_ROOT}'][@extension!='']",
    ):
        yield _at(
            ctx,
            "CPD-AUTHOR-SOR",
            f"the author (the clinic) carries no SOR id (root {SOR_ROOT})",
            "/ClinicalDocument/author/assignedAuthor",
        )
    for template, (code, what) in SECTIONS.items():
        section = facts.sections.get(template)
        if template == GOALS_SECTION:
            continue
        if section is None:
            yield _at(
                ctx,
                "CPD-SECTION",
                f"the {what} section ({template}) is missing",
                "/ClinicalDocument/component/structuredBody",
            )
        elif facts.one("v3:code/@code", section) != code:
            yield _at(
                ctx,
                "CPD-SECTION",
                f"the {what} section is coded {facts.one('v3:code/@code', section)!r}, "
                f"expected LOINC {code}",
                facts.path(section),
            )
    goals = facts.sections.get(GOALS_SECTION)
    if goals is None:
        yield _at(
            ctx,
            "CPD-GOALS",
            f"the goals section ({GOALS_SECTION}, LOINC 61146-7) is missing",
            "/ClinicalDocument/component/structuredBody",
        )
    elif not goals.xpath(
        f".//v3:observation[@moodCode='GOL'][v3:templateId/@root='{GOAL_OBSERVATION}']",
        namespaces=NS,
    ):
        yield _at(
            ctx, "CPD-GOALS", "the goals section holds no goal observation", facts.path(goals)
        )
    stamp = facts.one("v3:effectiveTime/@value")
    if parse_ts(stamp) is None:
        yield _at(
            ctx,
            "CPD-EFFECTIVE-TIME",
            f"the document's effectiveTime {stamp!r} is not an HL7 date/time",
            "/ClinicalDocument/effectiveTime",
        )
    version = facts.one("v3:versionNumber/@value")
    if (
        not facts.one("v3:id/@root")
        or not facts.one("v3:setId/@root")
        or not (version.isdecimal() and int(version) >= 1)
    ):
        yield _at(
            ctx,
            "CPD-VERSION",
            "a care plan needs id, setId and a versionNumber >= 1 to be replaceable",
            "/ClinicalDocument/setId",
        )


# ---- metadata <-> header ---------------------------------------------------------------------


def _header_id(facts: CpdFacts) -> str:
    root, ext = facts.one("v3:id/@root"), facts.one("v3:id/@extension")
    return f"{root}^{ext}" if ext else root


def _same_moment(metadata_time: str, header: dt.datetime | None) -> bool:
    text = metadata_time.strip()
    if header is None or not text.isdecimal() or len(text) not in (8, 10, 12, 14):
        return False
    moment = header.astimezone(dt.UTC).strftime("%Y%m%d%H%M%S")
    return moment.startswith(text)


@CHECKS.register("cpd-metadata", NO_PARAMS)
def cpd_metadata(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The repository metadata says what the document's header says."""
    got = _document(ctx)
    if isinstance(got, Finding):
        yield got
        return
    submission, facts = got
    meta = submission.get
    header_root, header_cpr = (facts.patient_ids or [("", "")])[0]
    problems = []
    if meta("patientId", "id") != header_cpr:
        problems.append(f"CPR {meta('patientId', 'id')!r} differs from the header's {header_cpr!r}")
    if meta("patientId", "root") != CPR_ROOT or header_root != CPR_ROOT:
        problems.append(
            f"root {meta('patientId', 'root')!r} (header {header_root!r}) is not the CPR root "
            f"{CPR_ROOT}"
        )
    if problems:
        yield _at(
            ctx,
            "META-PATIENT",
            "metadata patient: " + "; ".join(problems),
            "/metadata/patientId",
            "json-pointer",
        )
    author = "v3:author/v3:assignedAuthor"
    sors = {
        str(s)
        for s in facts.root.xpath(
            f"{author}/v3:id[@root='{SOR_ROOT}']/@extension | "
            f"{author}/v3:representedOrganization/v3:id[@root='{SOR_ROOT}']/@extension",
            namespaces=NS,
        )
    }
    if meta("authorInstitution", "id") not in sors or meta("authorInstitution", "root") != SOR_ROOT:
        yield _at(
            ctx,
            "META-AUTHOR",
            f"metadata author SOR {meta('authorInstitution', 'id')!r} is not the header "
            f"author's SOR {sorted(sors)}",
            "/metadata/authorInstitution",
            "json-pointer",
        )
    if meta("formatCode", "code") != FORMAT_CODE[0]:
        yield _at(
            ctx,
            "META-FORMAT",
            f"formatCode {meta('formatCode', 'code')!r}, expected {FORMAT_CODE[0]}",
            "/metadata/formatCode",
            "json-pointer",
        )
    if meta("classCode", "code") != CLASS_CODE[0]:
        yield _at(
            ctx,
            "META-CLASS",
            f"classCode {meta('classCode', 'code')!r}, expected {CLASS_CODE[0]}",
            "/metadata/classCode",
            "json-pointer",
        )
    header_code = facts.one("v3:code/@code")
    if meta("typeCode", "code") != header_code or meta("typeCode", "system") != LOINC:
        yield _at(
            ctx,
            "META-TYPE",
            f"typeCode {meta('typeCode', 'code')!r} is not the document code {header_code!r} "
            "(LOINC)",
            "/metadata/typeCode",
            "json-pointer",
        )
    if not _same_moment(meta("creationTime"), parse_ts(facts.one("v3:effectiveTime/@value"))):
        yield _at(
            ctx,
            "META-TIME",
            f"creationTime {meta('creationTime')!r} (UTC) is not the header's effectiveTime "
            f"{facts.one('v3:effectiveTime/@value')!r}",
            "/metadata/creationTime",
            "json-pointer",
        )
    if meta("confidentialityCode", "code") != facts.one("v3:confidentialityCode/@code"):
        yield _at(
            ctx,
            "META-CONFIDENTIALITY",
            f"confidentialityCode {meta('confidentialityCode', 'code')!r} is not the header's "
            f"{facts.one('v3:confidentialityCode/@code')!r}",
            "/metadata/confidentialityCode",
            "json-pointer",
        )
    if meta("uniqueId") != _header_id(facts):
        yield _at(
            ctx,
            "META-UNIQUEID",
            f"uniqueId {meta('uniqueId')!r} is not the document id {_header_id(facts)!r}",
            "/metadata/uniqueId",
            "json-pointer",
        )


# ---- content <-> oracle ----------------------------------------------------------------------


@CHECKS.register("cpd-matches-oracle", NO_PARAMS)
def cpd_matches_oracle(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """Stratification, goals and the latest measurements are the oracle's at the as-of date."""
    facts = _delivered_facts(ctx)
    if isinstance(facts, Finding):
        yield facts
        return
    cpr, as_of = str(ctx.notes["cpr"]), str(ctx.notes["as_of"])
    header_cpr = next((ext for root, ext in facts.patient_ids if root == CPR_ROOT), "")
    if header_cpr != cpr:
        yield _at(
            ctx,
            "CPD-WRONG-PATIENT",
            f"asked to share the plan of {cpr}; the document is about "
            f"{header_cpr or 'nobody identified under the CPR root'}",
            "/ClinicalDocument/recordTarget/patientRole/id",
        )
        return
    result = oracle_at(ctx.state, as_of)
    verdict = result.verdict(cpr)
    for package, included in (("kol", "kol-inkluderet"), ("lrs", "lrs-inkluderet")):
        if not verdict.profiles[included].member:
            continue
        want = verdict.colours[package]
        got = facts.colours.get(package)
        if got != want.colour:
            yield _at(
                ctx,
                "CPD-COLOUR",
                f"plan of {cpr}: {package} stratification {got!r}, expected {want.colour!r} "
                f"({want.detail})",
                f"//observation[code/@code='{package}-stratificering']",
            )
    oldest = window_start(result.as_of, result.pack.param("data_max_age")).isoformat()
    shown: dict[str, Result] = {}
    for item in facts.results:
        if item.system == KCERT_CODES:
            continue
        shown.setdefault(item.code, item)
        if item.day and item.day < oldest:
            yield _at(
                ctx,
                "CPD-STALE",
                f"plan of {cpr} shows {item.code} from {item.day}: older than two years",
                item.path,
            )
    for key, (system, code) in result.pack.observations.items():
        if system == result.pack.codes["event"]:
            continue
        latest = latest_measurement(result, cpr, key)
        if latest is None:
            continue
        found = shown.get(code)
        right_text = latest.text if latest.number is None else ""
        matches = (
            found is not None
            and found.day == latest.date.isoformat()
            and (
                (latest.number is not None and found.number == latest.number)
                or (latest.number is None and found.text == right_text)
            )
        )
        if not matches:
            got = "nothing"
            if found is not None:
                value = f"{found.number:g}" if found.number is not None else repr(found.text)
                got = f"{value} on {found.day}"
            right = latest.text if latest.number is None else f"{latest.number:g}"
            yield _at(
                ctx,
                "CPD-MEASUREMENT",
                f"plan of {cpr} shows {got} for {code}; the latest is {right} on "
                f"{latest.date.isoformat()}",
                found.path if found else "//section[templateId/@root='1.2.208.184.15.1.10.20.4']",
            )


# ---- versioning ------------------------------------------------------------------------------


@CHECKS.register(
    "cpd-replaces",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["of"],
        "properties": {"of": {"type": ["string", "integer"]}},
    },
)
def cpd_replaces(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """This share replaces the earlier step's document: RPLC, same set, next version, parent id."""
    ref = str(params["of"])
    earlier = ctx.earlier.get(ref)
    if earlier is None:
        raise LookupError(f"step {ref} did not run before this one")  # the protocol's mistake
    old_sub, old = _submission(earlier.notes), _facts(earlier.notes)
    if (old is None or old_sub is None) and earlier.root is not None:
        raise NotEvaluated(f"step {ref} shared no readable document", earlier.root)
    got = _document(ctx)
    if isinstance(got, Finding):
        yield got
        return
    new_sub, new = got
    if old is None or old_sub is None:
        said = with_quote("", earlier.exchange) if earlier.exchange else ""
        yield _at(
            ctx,
            "CPD-REPLACE",
            f"step {ref} shared no readable document for this one to replace{said}",
            "/ClinicalDocument/relatedDocument",
        )
        return
    old_id = _header_id(old)
    parent = new.root.xpath("v3:relatedDocument[@typeCode='RPLC']/v3:parentDocument", namespaces=NS)
    where = "/ClinicalDocument/relatedDocument"
    if not parent:
        yield _at(
            ctx,
            "CPD-REPLACE",
            f"no relatedDocument typeCode RPLC naming the replaced plan {old_id}",
            where,
        )
    else:
        doc = parent[0]
        pid = new.one("v3:id/@root", doc)
        pext = new.one("v3:id/@extension", doc)
        if (f"{pid}^{pext}" if pext else pid) != old_id:
            yield _at(
                ctx,
                "CPD-REPLACE",
                f"parentDocument id {pid!r} is not the replaced plan {old_id}",
                f"{where}/parentDocument/id",
            )
        if new.one("v3:setId/@root", doc) != old.one("v3:setId/@root"):
            yield _at(
                ctx,
                "CPD-REPLACE",
                "parentDocument setId is not the replaced plan's setId",
                f"{where}/parentDocument/setId",
            )
    if new.one("v3:setId/@root") != old.one("v3:setId/@root"):
        yield _at(
            ctx,
            "CPD-REPLACE",
            "the new version has another setId than the plan it replaces",
            "/ClinicalDocument/setId",
        )
    old_v, new_v = old.one("v3:versionNumber/@value"), new.one("v3:versionNumber/@value")
    if not (old_v.isdecimal() and new_v.isdecimal() and int(new_v) == int(old_v) + 1):
        yield _at(
            ctx,
            "CPD-REPLACE",
            f"versionNumber {new_v!r} does not follow {old_v!r}",
            "/ClinicalDocument/versionNumber",
        )
    if (
        new_sub.get("parentDocument", "id") != old_sub.get("uniqueId")
        or new_sub.get("parentDocument", "relationship") != "RPLC"
    ):
        yield _at(
            ctx,
            "META-PARENT",
            f"metadata parentDocument {new_sub.get('parentDocument', 'id')!r} "
            f"({new_sub.get('parentDocument', 'relationship') or 'no relationship'}) does not "
            f"replace {old_sub.get('uniqueId')!r} (RPLC)",
            "/metadata/parentDocument",
            "json-pointer",
        )
