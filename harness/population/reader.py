"""Read (and check) a population: a FHIR R4 transaction Bundle in kcert's documented format.

One pass over the entries builds the oracle's records and collects every problem with its
JSON pointer, so `kcert population validate` can list them all.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.inputfile import InputFileError, read_limited
from harness.population.model import (
    CLINIC_TAG,
    CPR,
    EVENT,
    ICPC2,
    INSURANCE,
    MCS,
    NPU,
    SERVICE,
    SKS,
    SOR,
    STARTBACK,
    Condition,
    Measurement,
    PatientRecord,
    Population,
    StartBack,
)
from harness.safeparse import Limits, PayloadError, parse_json
from harness.synthetic import birth_date, synthetic_cpr_problem

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
POPULATION_LIMITS = Limits(max_bytes=2 * 1024**3, max_depth=64)
GENDERS = frozenset({"male", "female", "other", "unknown"})
OBSERVATION_SYSTEMS = frozenset({NPU, MCS, EVENT})
CONDITION_SYSTEMS = frozenset({ICPC2, SKS})


@dataclass(frozen=True)
class Problem:
    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class PopulationError(ValueError):
    """The population file breaks the documented format; the text lists the problems."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        shown = "\n".join(f"  {source}#{p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{source}: {len(problems)} problem(s) in the population\n{shown}{more}")
        self.problems = problems


def parse_date(value: Any) -> dt.date | None:
    """A FHIR date or dateTime as a calendar date (the date part as written)."""
    if not isinstance(value, str) or len(value) < 10 or value[4:5] != "-":
        return None
    try:
        day = dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
    return day if 1800 <= day.year <= 2200 else None


class _Reader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.patients: dict[str, PatientRecord] = {}
        self.orgs: dict[str, tuple[str, str, bool]] = {}  # fullUrl -> (sor, name, own)
        self.pending_gp: list[tuple[PatientRecord, str, str]] = []

    def problem(self, pointer: str, message: str) -> None:
        self.problems.append(Problem(pointer, message))

    def date(self, value: Any, pointer: str, required: bool = True) -> dt.date | None:
        if value is None and not required:
            return None
        parsed = parse_date(value)
        if parsed is None:
            self.problem(pointer, f"expected a date (YYYY-MM-DD…), got {value!r}")
        return parsed

    def subject(self, resource: dict[str, Any], at: str) -> PatientRecord | None:
        ref = (resource.get("subject") or {}).get("reference")
        patient = self.patients.get(ref) if isinstance(ref, str) else None
        if patient is None:
            self.problem(f"{at}/subject", f"does not reference a Patient in the Bundle ({ref!r})")
        return patient


def read_population(data: Any, source: str = "") -> tuple[Population, list[Problem]]:
    reader = _Reader()
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        return Population("", "", [], source), [Problem("", "not a FHIR Bundle")]
    if data.get("type") != "transaction":
        reader.problem("/type", f"Bundle.type must be 'transaction', got {data.get('type')!r}")
    entries = data.get("entry")
    if not isinstance(entries, list):
        return Population("", "", [], source), [Problem("/entry", "missing entries")]
    # Organizations first, so Patients may come in any order relative to them.
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Organization":
            _guarded(reader, _organization, entry, resource, f"/entry/{index}")
    # Patients before what refers to them: entry order carries no meaning in a transaction.
    ordered = sorted(
        range(len(entries)),
        key=lambda i: 0 if _kind(entries[i]) == "Patient" else 1,
    )
    for index in ordered:
        entry = entries[index]
        at = f"/entry/{index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("resource"), dict):
            reader.problem(at, "entry without a resource")
            continue
        resource = entry["resource"]
        request = entry.get("request")
        if (
            not isinstance(request, dict)
            or request.get("method") not in ("POST", "PUT")
            or not request.get("url")
        ):
            reader.problem(
                f"{at}/request", "a transaction entry needs request.method POST|PUT and url"
            )
        kind = resource.get("resourceType")
        handler = _HANDLERS.get(str(kind))
        if handler is None and kind != "Organization":
            reader.problem(
                f"{at}/resource/resourceType", f"resource type {kind!r} is not part of the format"
            )
        elif handler is not None:
            _guarded(reader, handler, entry, resource, f"{at}/resource")
    own = [(sor, name) for sor, name, is_own in reader.orgs.values() if is_own]
    if len(own) != 1:
        reader.problem(
            "/entry",
            f"exactly one Organization must carry meta.tag {CLINIC_TAG}#own-clinic,"
            f" found {len(own)}",
        )
    clinic_sor, clinic_name = own[0] if own else ("", "")
    for patient, ref, at in reader.pending_gp:
        org = reader.orgs.get(ref)
        if org is None:
            reader.problem(at, f"generalPractitioner {ref!r} is not an Organization in the Bundle")
        else:
            patient.gp_sor = org[0]
    population = Population(clinic_sor, clinic_name, list(reader.patients.values()), source)
    return population, reader.problems + check_unique_cprs(population)


def _guarded(reader: _Reader, handler: Any, entry: Any, resource: Any, at: str) -> None:
    """A resource of an unforeseen shape is one listed problem, never a traceback."""
    try:
        handler(reader, entry, resource, at)
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
        reader.problem(at, f"unexpected shape ({type(exc).__name__}: {exc})")


def _kind(entry: Any) -> str:
    resource = entry.get("resource") if isinstance(entry, dict) else None
    return str(resource.get("resourceType")) if isinstance(resource, dict) else ""


def _organization(
    reader: _Reader, entry: dict[str, Any], resource: dict[str, Any], at: str
) -> None:
    sor = _identifier(resource, SOR)
    if not sor:
        reader.problem(f"{at}/resource/identifier", "an Organization needs a SOR identifier")
    tags = (resource.get("meta") or {}).get("tag") or []
    own = any(t.get("system") == CLINIC_TAG and t.get("code") == "own-clinic" for t in tags)
    full_url = entry.get("fullUrl")
    if not isinstance(full_url, str):
        reader.problem(f"{at}/fullUrl", "missing fullUrl")
        return
    reader.orgs[full_url] = (sor, str(resource.get("name", "")), own)


def _identifier(resource: dict[str, Any], system: str) -> str:
    for ident in resource.get("identifier") or []:
        if isinstance(ident, dict) and ident.get("system") == system:
            return str(ident.get("value", ""))
    return ""


def _patient(reader: _Reader, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    full_url = entry.get("fullUrl")
    if not isinstance(full_url, str):
        reader.problem(f"{at}/../fullUrl", "missing fullUrl")
        return
    cpr = _identifier(resource, CPR)
    if not cpr:
        reader.problem(f"{at}/identifier", f"a Patient needs a CPR identifier ({CPR})")
    else:
        problem = synthetic_cpr_problem(cpr)
        if problem:
            reader.problem(f"{at}/identifier", problem)
    birth = reader.date(resource.get("birthDate"), f"{at}/birthDate") or dt.date(1900, 1, 1)
    if cpr and birth_date(cpr) is not None and birth_date(cpr) != birth:
        reader.problem(f"{at}/birthDate", "birthDate does not match the date in the CPR number")
    gender = resource.get("gender")
    if gender not in GENDERS:
        reader.problem(f"{at}/gender", f"gender must be one of {sorted(GENDERS)}")
    names = resource.get("name") or [{}]
    name = names[0] if isinstance(names[0], dict) else {}
    given = name.get("given") or [""]
    record = PatientRecord(
        ref=full_url,
        cpr=cpr,
        given=str(given[0]),
        family=str(name.get("family", "")),
        birth=birth,
        gender=str(gender),
    )
    active = resource.get("active", True)
    if not isinstance(active, bool):
        reader.problem(f"{at}/active", "active must be true or false")
    record.active = active is not False
    if "deceasedBoolean" in resource:
        if not isinstance(resource["deceasedBoolean"], bool):
            reader.problem(f"{at}/deceasedBoolean", "must be true or false")
        record.deceased = resource["deceasedBoolean"] is True
    if "deceasedDateTime" in resource:
        record.deceased_date = reader.date(resource["deceasedDateTime"], f"{at}/deceasedDateTime")
    for ext in resource.get("extension") or []:
        if isinstance(ext, dict) and ext.get("url") == INSURANCE:
            value = ext.get("valueInteger")
            if value not in (1, 2) or isinstance(value, bool):
                reader.problem(f"{at}/extension", "insurance group must be valueInteger 1 or 2")
            else:
                record.insurance_group = value
    gps = resource.get("generalPractitioner") or []
    ref = gps[0].get("reference") if gps and isinstance(gps[0], dict) else None
    if not isinstance(ref, str):
        reader.problem(
            f"{at}/generalPractitioner", "a Patient needs generalPractitioner -> Organization"
        )
    else:
        reader.pending_gp.append((record, ref, f"{at}/generalPractitioner"))
    if full_url in reader.patients:
        reader.problem(f"{at}/../fullUrl", f"duplicate fullUrl {full_url}")
    reader.patients[full_url] = record


def _codings(concept: Any) -> list[tuple[str, str]]:
    if not isinstance(concept, dict):
        return []
    return [
        (str(c.get("system", "")), str(c.get("code", "")))
        for c in concept.get("coding") or []
        if isinstance(c, dict)
    ]


def _condition(reader: _Reader, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    patient = reader.subject(resource, at)
    codes = [c for c in _codings(resource.get("code")) if c[0] in CONDITION_SYSTEMS]
    if not codes:
        reader.problem(f"{at}/code", "a Condition needs an ICPC-2 or SKS-D coding")
    status = next(
        (code for system, code in _codings(resource.get("clinicalStatus")) if system == CLINICAL),
        "",
    )
    if not status:
        reader.problem(f"{at}/clinicalStatus", "a Condition needs clinicalStatus")
    recorded = reader.date(resource.get("recordedDate"), f"{at}/recordedDate", required=False)
    if patient is not None:
        for system, code in codes:
            patient.conditions.append(Condition(system, code, status, recorded))


def _observation(reader: _Reader, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    patient = reader.subject(resource, at)
    codes = [c for c in _codings(resource.get("code")) if c[0] in OBSERVATION_SYSTEMS]
    if not codes:
        reader.problem(f"{at}/code", "an Observation needs an NPU/DNK, MCS or kcert event coding")
        return
    when = reader.date(resource.get("effectiveDateTime"), f"{at}/effectiveDateTime")
    number: float | None = None
    text = ""
    if "valueQuantity" in resource:
        value = (resource["valueQuantity"] or {}).get("value")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or abs(value) >= 1e15:
            reader.problem(f"{at}/valueQuantity/value", "must be a number (below 10^15)")
        else:
            number = float(value)
    elif "valueInteger" in resource:
        value = resource["valueInteger"]
        if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 10**15:
            reader.problem(f"{at}/valueInteger", "must be an integer (below 10^15)")
        else:
            number = float(value)
    elif "valueString" in resource:
        text = str(resource["valueString"])
    elif codes[0][0] != EVENT:
        reader.problem(at, "a measurement needs valueQuantity, valueInteger or valueString")
    if patient is not None and when is not None:
        patient.measurements.setdefault(codes[0], []).append(Measurement(when, number, text))


def _charge_item(reader: _Reader, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    patient = reader.subject(resource, at)
    codes = [c for c in _codings(resource.get("code")) if c[0] == SERVICE]
    if not codes:
        reader.problem(f"{at}/code", f"a ChargeItem needs a service code ({SERVICE})")
    when = reader.date(resource.get("occurrenceDateTime"), f"{at}/occurrenceDateTime")
    if patient is not None and when is not None:
        for _, code in codes:
            patient.services.append((code, when))


def _encounter(reader: _Reader, entry: dict[str, Any], resource: dict[str, Any], at: str) -> None:
    patient = reader.subject(resource, at)
    reasons = frozenset(c for rc in resource.get("reasonCode") or [] for c in _codings(rc))
    when = reader.date((resource.get("period") or {}).get("start"), f"{at}/period/start")
    if patient is not None and when is not None:
        patient.encounters.append((reasons, when))


def _questionnaire_response(
    reader: _Reader, entry: dict[str, Any], resource: dict[str, Any], at: str
) -> None:
    patient = reader.subject(resource, at)
    if resource.get("questionnaire") != STARTBACK:
        reader.problem(f"{at}/questionnaire", f"only {STARTBACK} is part of the format")
        return
    when = reader.date(resource.get("authored"), f"{at}/authored")
    answers: dict[str, bool] = {}
    for index, item in enumerate(resource.get("item") or []):
        link = item.get("linkId") if isinstance(item, dict) else None
        if link not in {str(n) for n in range(1, 10)}:
            reader.problem(f"{at}/item/{index}/linkId", "STarT Back items are linkId '1'..'9'")
            continue
        answer = (item.get("answer") or [{}])[0]
        value = answer.get("valueBoolean") if isinstance(answer, dict) else None
        if isinstance(value, bool):
            answers[str(link)] = value
        else:
            reader.problem(f"{at}/item/{index}/answer", "answer must be valueBoolean")
    complete = resource.get("status") == "completed" and len(answers) == 9
    if patient is not None and when is not None:
        ordered = tuple(answers[str(n)] for n in range(1, 10)) if complete else ()
        patient.startbacks.append(StartBack(when, ordered))


_HANDLERS = {
    "Patient": _patient,
    "Condition": _condition,
    "Observation": _observation,
    "ChargeItem": _charge_item,
    "Encounter": _encounter,
    "QuestionnaireResponse": _questionnaire_response,
}


def check_unique_cprs(population: Population) -> list[Problem]:
    seen: set[str] = set()
    problems = []
    for patient in population.patients:
        if patient.cpr and patient.cpr in seen:
            problems.append(Problem(patient.ref, "CPR number used by two patients"))
        seen.add(patient.cpr)
    return problems


def validate_population(path: Path) -> tuple[Population, list[Problem]]:
    """Every problem of a population file (empty list = valid)."""
    try:
        data = parse_json(read_limited(path, POPULATION_LIMITS.max_bytes), POPULATION_LIMITS)
    except InputFileError as exc:
        return Population("", "", [], str(path)), [Problem("", f"{path}: {exc.reason}")]
    except PayloadError as exc:
        return Population("", "", [], str(path)), [Problem("", str(exc))]
    return read_population(data, str(path))


def load_population(path: Path) -> Population:
    """A valid population, or PopulationError listing what is wrong."""
    population, problems = validate_population(path)
    if problems:
        raise PopulationError(str(path), problems)
    return population
