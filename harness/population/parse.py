"""The one parser of kcert's population format: a transaction Bundle → fact rows + problems.

Both readers go through here (never two parsers): the strict reader (`reader.py`) turns the
rows into the oracle's records and refuses every problem; the lenient extract reader
(`extract.py`) keeps the rows and refuses only problems without a `fault` — a malformed file —
while a data-quality fault (an uncoded diagnosis, a missing general practitioner, …) stays on
its row as a fact to score. The CSV form of an extract is mapped to resources and parsed here
too (`extractcsv.py`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from harness.population import facts as f
from harness.population.model import (
    ATC,
    CLINIC_TAG,
    CPR,
    EVENT,
    ICPC2,
    INSURANCE,
    MCS,
    NPU,
    REGISTER_UPDATED,
    SERVICE,
    SKS,
    SOR,
    STARTBACK,
)
from harness.synthetic import birth_date, synthetic_cpr_problem

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
GENDERS = frozenset({"male", "female", "other", "unknown"})
OBSERVATION_SYSTEMS = frozenset({NPU, MCS, EVENT})
CONDITION_SYSTEMS = frozenset({ICPC2, SKS})
MEDICATION_STATUSES = frozenset(
    {
        "active",
        "completed",
        "entered-in-error",
        "intended",
        "stopped",
        "on-hold",
        "unknown",
        "not-taken",
    }
)


@dataclass(frozen=True)
class Problem:
    pointer: str
    message: str
    fault: str | None = None  # a data-quality fault the lenient reader keeps; None = malformed

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


def parse_date(value: Any) -> dt.date | None:
    """A FHIR date or dateTime as a calendar date (the date part as written)."""
    if not isinstance(value, str) or len(value) < 10 or value[4:5] != "-":
        return None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day if 1800 <= day.year <= 2200 else None


@dataclass
class Org:
    sor: str
    name: str
    own: bool
    register_updated: dt.date | None


@dataclass
class Parsed:
    """Everything one Bundle holds, as rows, with every problem found on the way."""

    source: str
    problems: list[Problem] = field(default_factory=list)
    orgs: dict[str, Org] = field(default_factory=dict)  # fullUrl -> Organization
    patients: dict[str, f.PatientFact] = field(default_factory=dict)  # fullUrl -> row
    as_of: dt.date | None = None
    conditions: list[f.ConditionFact] = field(default_factory=list)
    observations: list[f.ObservationFact] = field(default_factory=list)
    medications: list[f.MedicationFact] = field(default_factory=list)
    services: list[f.ServiceFact] = field(default_factory=list)
    encounters: list[f.EncounterFact] = field(default_factory=list)
    startbacks: list[f.StartBackFact] = field(default_factory=list)

    def problem(self, pointer: str, message: str, fault: str | None = None) -> None:
        self.problems.append(Problem(pointer, message, fault))

    def date(self, value: Any, pointer: str, required: bool = True) -> dt.date | None:
        if value is None and not required:
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.problem(pointer, f"expected a date (YYYY-MM-DD…), got {value!r}")
        return parsed

    def subject(self, resource: dict[str, Any], at: str) -> f.PatientFact | None:
        ref = (resource.get("subject") or {}).get("reference")
        patient = self.patients.get(ref) if isinstance(ref, str) else None
        if patient is None:
            self.problem(f"{at}/subject", f"does not reference a Patient in the Bundle ({ref!r})")
        return patient

    def own_clinic(self) -> Org | None:
        own = [org for org in self.orgs.values() if org.own]
        return own[0] if len(own) == 1 else None


Handler = Callable[[Parsed, dict[str, Any], dict[str, Any], str], None]


def parse_bundle(data: Any, source: str = "") -> Parsed:
    parsed = Parsed(source)
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        parsed.problem("", "not a FHIR Bundle")
        return parsed
    if data.get("type") != "transaction":
        parsed.problem("/type", f"Bundle.type must be 'transaction', got {data.get('type')!r}")
    if "timestamp" in data:
        parsed.as_of = parsed.date(data["timestamp"], "/timestamp")
    entries = data.get("entry")
    if not isinstance(entries, list):
        parsed.problem("/entry", "missing entries")
        return parsed
    # Organizations first, so Patients may come in any order relative to them.
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Organization":
            guarded(parsed, organization, entry, resource, f"/entry/{index}")
    # Patients before what refers to them: entry order carries no meaning in a transaction.
    ordered = sorted(range(len(entries)), key=lambda i: 0 if _kind(entries[i]) == "Patient" else 1)
    for index in ordered:
        entry = entries[index]
        at = f"/entry/{index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            parsed.problem(at, "entry without a resource")
            continue
        resource = entry["resource"]
        request = entry.get("request")
        if (
            not isinstance(request, dict)
            or request.get("method") not in ("POST", "PUT")
            or not request.get("url")
        ):
            parsed.problem(
                f"{at}/request", "a transaction entry needs request.method POST|PUT and url"
            )
        kind = resource.get("resourceType")
        handler = HANDLERS.get(str(kind))
        if handler is None and kind != "Organization":
            parsed.problem(
                f"{at}/resource/resourceType", f"resource type {kind!r} is not part of the format"
            )
        elif handler is not None:
            guarded(parsed, handler, entry, resource, f"{at}/resource")
    own = [org for org in parsed.orgs.values() if org.own]
    if len(own) != 1:
        parsed.problem(
            "/entry",
            f"exactly one Organization must carry meta.tag {CLINIC_TAG}#own-clinic,"
            f" found {len(own)}",
        )
    parsed.problems.extend(unique_cprs((p.cpr, p.id) for p in parsed.patients.values()))
    return parsed


def guarded(parsed: Parsed, handler: Handler, entry: Any, resource: Any, at: str) -> None:
    """A resource of an unforeseen shape is one listed problem, never a traceback."""
    try:
        handler(parsed, entry, resource, at)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        parsed.problem(at, f"unexpected shape ({type(exc).__name__}: {exc})")


def unique_cprs(patients: Iterable[tuple[str, str]]) -> list[Problem]:
    """(cpr, where) pairs → a problem for each CPR met before."""
    seen: set[str] = set()
    problems = []
    for cpr, where in patients:
        if cpr and cpr in seen:
            problems.append(Problem(where, "CPR number used by two patients"))
        seen.add(cpr)
    return problems


def _kind(entry: Any) -> str:
    resource = entry.get("resource") if isinstance(entry, dict) else None
    return str(resource.get("resourceType")) if isinstance(resource, dict) else ""


def _identifier(resource: dict[str, Any], system: str) -> str:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == system:
            return str(ident.get("value", ""))
    return ""


def _extension(resource: dict[str, Any], url: str) -> dict[str, Any] | None:
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == url:
            return ext
    return None


def organization(parsed: Parsed, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    sor = _identifier(resource, SOR)
    if not sor:
        parsed.problem(f"{at}/resource/identifier", "an Organization needs a SOR identifier")
    tags = (resource.get("meta") or {}).get("tag") or []
    own = any(t.get("system") == CLINIC_TAG and t.get("code") == "own-clinic" for t in tags)
    register = None
    ext = _extension(resource, REGISTER_UPDATED)
    if ext is not None:
        register = parsed.date(ext.get("valueDate"), f"{at}/resource/extension")
    full_url = entry.get("fullUrl")
    if not isinstance(full_url, str):
        parsed.problem(f"{at}/fullUrl", "missing fullUrl")
        return
    parsed.orgs[full_url] = Org(sor, str(resource.get("name", "")), own, register)


def patient(parsed: Parsed, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    full_url = entry.get("fullUrl")
    if not isinstance(full_url, str):
        parsed.problem(f"{at}/../fullUrl", "missing fullUrl")
        return
    faults: list[str] = []
    cpr = _identifier(resource, CPR)
    if not cpr:
        parsed.problem(f"{at}/identifier", f"a Patient needs a CPR identifier ({CPR})")
    else:
        problem = synthetic_cpr_problem(cpr)
        if problem:
            parsed.problem(f"{at}/identifier", problem)
    birth = parsed.date(resource.get("birthDate"), f"{at}/birthDate")
    if cpr and birth is not None and birth_date(cpr) is not None and birth_date(cpr) != birth:
        parsed.problem(
            f"{at}/birthDate",
            "birthDate does not match the date in the CPR number",
            f.BIRTHDATE_MISMATCH,
        )
        faults.append(f.BIRTHDATE_MISMATCH)
    gender = resource.get("gender")
    if gender not in GENDERS:
        parsed.problem(f"{at}/gender", f"gender must be one of {sorted(GENDERS)}")
    names = resource.get("name") or [{}]
    name = names[0] if isinstance(names[0], dict) else {}
    given = name.get("given") or [""]
    active = resource.get("active", True)
    if not isinstance(active, bool):
        parsed.problem(f"{at}/active", "active must be true or false")
    deceased = False
    if "deceasedBoolean" in resource:
        if not isinstance(resource["deceasedBoolean"], bool):
            parsed.problem(f"{at}/deceasedBoolean", "must be true or false")
        deceased = resource["deceasedBoolean"] is True
    deceased_date = None
    if "deceasedDateTime" in resource:
        deceased_date = parsed.date(resource["deceasedDateTime"], f"{at}/deceasedDateTime")
    group = None
    ext = _extension(resource, INSURANCE)
    if ext is not None:
        value = ext.get("valueInteger")
        if value not in (1, 2) or isinstance(value, bool):
            parsed.problem(f"{at}/extension", "insurance group must be valueInteger 1 or 2")
        else:
            group = int(value)
    gp_sor = ""
    gps = resource.get("generalPractitioner") or []
    ref = gps[0].get("reference") if gps and isinstance(gps[0], dict) else None
    if not gps:
        parsed.problem(
            f"{at}/generalPractitioner",
            "a Patient needs generalPractitioner -> Organization",
            f.MISSING_GP,
        )
        faults.append(f.MISSING_GP)
    elif not isinstance(ref, str):
        parsed.problem(
            f"{at}/generalPractitioner", "a Patient needs generalPractitioner -> Organization"
        )
    elif ref not in parsed.orgs:
        parsed.problem(
            f"{at}/generalPractitioner",
            f"generalPractitioner {ref!r} is not an Organization in the Bundle",
        )
    else:
        gp_sor = parsed.orgs[ref].sor
    if full_url in parsed.patients:
        parsed.problem(f"{at}/../fullUrl", f"duplicate fullUrl {full_url}")
    parsed.patients[full_url] = f.PatientFact(
        id=full_url,
        cpr=cpr,
        given=str(given[0]),
        family=str(name.get("family", "")),
        birth=birth,
        gender=str(gender),
        active=active is not False,
        deceased=deceased,
        deceased_date=deceased_date,
        gp_sor=gp_sor,
        insurance_group=group,
        faults=tuple(faults),
        at=at,
    )


def codings(concept: Any) -> tuple[f.Coding, ...]:
    if not isinstance(concept, dict):
        return ()
    return tuple(
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in concept.get("coding") or []
        if isinstance(c, dict)
    )


def _primary(all_codings: tuple[f.Coding, ...], systems: frozenset[str]) -> f.Coding:
    for coding in all_codings:
        if coding[0] in systems:
            return coding
    return all_codings[0] if all_codings else ("", "")


def _text(concept: Any) -> str:
    text = concept.get("text") if isinstance(concept, dict) else None
    return text if isinstance(text, str) else ""


def _id(entry: dict[str, Any]) -> str:
    full_url = entry.get("fullUrl")
    return full_url if isinstance(full_url, str) else ""


def condition(parsed: Parsed, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    owner = parsed.subject(resource, at)
    written = codings(resource.get("code"))
    faults: list[str] = []
    if not any(system in CONDITION_SYSTEMS for system, _ in written):
        fault = f.DIAGNOSIS_WRONG_SYSTEM if written else f.DIAGNOSIS_FREE_TEXT
        parsed.problem(f"{at}/code", "a Condition needs an ICPC-2 or SKS-D coding", fault)
        faults.append(fault)
    status = next(
        (code for system, code in codings(resource.get("clinicalStatus")) if system == CLINICAL),
        "",
    )
    if not status:
        parsed.problem(
            f"{at}/clinicalStatus", "a Condition needs clinicalStatus", f.CONDITION_WITHOUT_STATUS
        )
        faults.append(f.CONDITION_WITHOUT_STATUS)
    recorded = parsed.date(resource.get("recordedDate"), f"{at}/recordedDate", required=False)
    if owner is not None:
        system, code = _primary(written, CONDITION_SYSTEMS)
        parsed.conditions.append(
            f.ConditionFact(
                _id(entry),
                owner.cpr,
                system,
                code,
                _text(resource.get("code")),
                written,
                status,
                recorded,
                tuple(faults),
                at,
            )
        )


def _number(value: Any, pointer: str, parsed: Parsed, integer: bool) -> float | None:
    exact = isinstance(value, int) and not isinstance(value, bool)
    if (exact or (not integer and isinstance(value, float))) and abs(value) < 10**15:
        return float(value)
    what = "an integer" if integer else "a number"
    parsed.problem(pointer, f"must be {what} (below 10^15)")
    return None


def observation(parsed: Parsed, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    owner = parsed.subject(resource, at)
    written = codings(resource.get("code"))
    system, code = _primary(written, OBSERVATION_SYSTEMS)
    faults: list[str] = []
    if system not in OBSERVATION_SYSTEMS:
        parsed.problem(
            f"{at}/code",
            "an Observation needs an NPU/DNK, MCS or kcert event coding",
            f.LAB_LOCAL_CODE,
        )
        faults.append(f.LAB_LOCAL_CODE)
    when = parsed.date(resource.get("effectiveDateTime"), f"{at}/effectiveDateTime")
    number: float | None = None
    kind = text = unit = ""
    if "valueQuantity" in resource:
        kind = "quantity"
        quantity = resource["valueQuantity"] or {}
        number = _number(quantity.get("value"), f"{at}/valueQuantity/value", parsed, False)
        raw_unit = quantity.get("unit", quantity.get("code", ""))
        unit = raw_unit if isinstance(raw_unit, str) else ""
    elif "valueInteger" in resource:
        kind = "integer"
        number = _number(resource["valueInteger"], f"{at}/valueInteger", parsed, True)
    elif "valueString" in resource:
        kind = "string"
        text = str(resource["valueString"])
    elif system != EVENT:
        parsed.problem(
            at,
            "a measurement needs valueQuantity, valueInteger or valueString",
            f.OBSERVATION_WITHOUT_VALUE,
        )
        faults.append(f.OBSERVATION_WITHOUT_VALUE)
    if owner is not None and when is not None:
        parsed.observations.append(
            f.ObservationFact(
                _id(entry),
                owner.cpr,
                system,
                code,
                _text(resource.get("code")),
                written,
                when,
                kind,
                number,
                text,
                unit,
                tuple(faults),
                at,
            )
        )


def medication_statement(
    parsed: Parsed, entry: dict[str, Any], resource: dict[str, Any], at: str
) -> None:
    owner = parsed.subject(resource, at)
    concept = resource.get("medicationCodeableConcept")
    written = codings(concept)
    faults: list[str] = []
    if not any(system == ATC for system, _ in written):
        parsed.problem(
            f"{at}/medicationCodeableConcept",
            f"a MedicationStatement needs an ATC coding ({ATC})",
            f.MEDICATION_UNCODED,
        )
        faults.append(f.MEDICATION_UNCODED)
    status = resource.get("status")
    if status not in MEDICATION_STATUSES:
        parsed.problem(f"{at}/status", f"status must be one of {sorted(MEDICATION_STATUSES)}")
    if "effectivePeriod" in resource:
        period = resource["effectivePeriod"] or {}
        start = parsed.date(period.get("start"), f"{at}/effectivePeriod/start")
        end = parsed.date(period.get("end"), f"{at}/effectivePeriod/end", required=False)
    else:
        start = parsed.date(resource.get("effectiveDateTime"), f"{at}/effectiveDateTime")
        end = None
    if owner is not None and start is not None:
        system, code = _primary(written, frozenset({ATC}))
        parsed.medications.append(
            f.MedicationFact(
                _id(entry),
                owner.cpr,
                system,
                code,
                _text(concept),
                written,
                str(status),
                start,
                end,
                tuple(faults),
                at,
            )
        )


def charge_item(parsed: Parsed, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    owner = parsed.subject(resource, at)
    codes = [c for c in codings(resource.get("code")) if c[0] == SERVICE]
    if not codes:
        parsed.problem(f"{at}/code", f"a ChargeItem needs a service code ({SERVICE})")
    when = parsed.date(resource.get("occurrenceDateTime"), f"{at}/occurrenceDateTime")
    if owner is not None and when is not None:
        for _, code in codes:
            parsed.services.append(f.ServiceFact(_id(entry), owner.cpr, code, when, (), at))


def encounter(parsed: Parsed, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    owner = parsed.subject(resource, at)
    reasons = tuple(c for rc in resource.get("reasonCode") or [] for c in codings(rc))
    when = parsed.date((resource.get("period") or {}).get("start"), f"{at}/period/start")
    if owner is not None and when is not None:
        parsed.encounters.append(f.EncounterFact(_id(entry), owner.cpr, reasons, when, (), at))


def questionnaire_response(
    parsed: Parsed, entry: dict[str, Any], resource: dict[str, Any], at: str
) -> None:
    owner = parsed.subject(resource, at)
    if resource.get("questionnaire") != STARTBACK:
        parsed.problem(f"{at}/questionnaire", f"only {STARTBACK} is part of the format")
        return
    when = parsed.date(resource.get("authored"), f"{at}/authored")
    answers: dict[str, bool] = {}
    for index, item in enumerate(resource.get("item") or []):
        link = item.get("linkId") if isinstance(item, dict) else None
        if link not in {str(n) for n in range(1, 10)}:
            parsed.problem(f"{at}/item/{index}/linkId", "STarT Back items are linkId '1'..'9'")
            continue
        answer = (item.get("answer") or [{}])[0]
        value = answer.get("valueBoolean") if isinstance(answer, dict) else None
        if isinstance(value, bool):
            answers[str(link)] = value
        else:
            parsed.problem(f"{at}/item/{index}/answer", "answer must be valueBoolean")
    if owner is not None and when is not None:
        written = "".join(
            ("1" if answers[str(n)] else "0") if str(n) in answers else "-" for n in range(1, 10)
        )
        parsed.startbacks.append(
            f.StartBackFact(
                _id(entry), owner.cpr, str(resource.get("status", "")), when, written, (), at
            )
        )


HANDLERS: dict[str, Handler] = {
    "Patient": patient,
    "Condition": condition,
    "Observation": observation,
    "MedicationStatement": medication_statement,
    "ChargeItem": charge_item,
    "Encounter": encounter,
    "QuestionnaireResponse": questionnaire_response,
}
