"""The CSV form of a clinic extract: a folder with one CSV per fact table (see FORMAT.md).

Reading maps each row to the FHIR resource it stands for and hands the Bundle to the one
parser (`parse.py`), so CSV and JSON are judged by the same code; a problem's JSON pointer is
mapped back to `file:line: column`. Writing goes from the fact rows, so JSON → facts → CSV →
facts gives the same facts.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.inputfile import InputFileError, read_limited
from harness.population import facts as f
from harness.population.model import (
    CLINIC_TAG,
    CPR,
    INSURANCE,
    REGISTER_UPDATED,
    SERVICE,
    SOR,
    STARTBACK,
)
from harness.population.parse import CLINICAL, Parsed, parse_bundle

MAX_CSV_BYTES = 2 * 1024**3
CLINIC_COLUMNS = ["sor", "name", "register_updated", "as_of"]
COLUMNS: dict[str, list[str]] = {
    "patients": [
        "id",
        "cpr",
        "given",
        "family",
        "birth_date",
        "gender",
        "active",
        "deceased",
        "deceased_date",
        "gp_sor",
        "insurance_group",
    ],
    "conditions": [
        "id",
        "cpr",
        "system",
        "code",
        "other_codings",
        "text",
        "status",
        "recorded_date",
    ],
    "observations": [
        "id",
        "cpr",
        "system",
        "code",
        "other_codings",
        "text",
        "date",
        "value_kind",
        "value",
        "unit",
    ],
    "medications": [
        "id",
        "cpr",
        "system",
        "code",
        "other_codings",
        "text",
        "status",
        "start",
        "end",
    ],
    "services": ["id", "cpr", "code", "date"],
    "encounters": ["id", "cpr", "reasons", "date"],
    "startbacks": ["id", "cpr", "status", "date", "answers"],
}
VALUE_KINDS = ("quantity", "integer", "string", "")
# A parser problem's pointer (below the resource) → the column that holds the field.
_FIELDS: dict[str, list[tuple[str, str]]] = {
    "clinic": [("/resource/identifier", "sor"), ("/resource/extension", "register_updated")],
    "patients": [
        ("/identifier", "cpr"),
        ("/birthDate", "birth_date"),
        ("/gender", "gender"),
        ("/active", "active"),
        ("/deceasedBoolean", "deceased"),
        ("/deceasedDateTime", "deceased_date"),
        ("/generalPractitioner", "gp_sor"),
        ("/extension", "insurance_group"),
    ],
    "conditions": [
        ("/code", "system"),
        ("/clinicalStatus", "status"),
        ("/recordedDate", "recorded_date"),
    ],
    "observations": [
        ("/code", "system"),
        ("/effectiveDateTime", "date"),
        ("/valueQuantity", "value"),
        ("/valueInteger", "value"),
        ("", "value_kind"),
    ],
    "medications": [
        ("/medicationCodeableConcept", "system"),
        ("/status", "status"),
        ("/effectivePeriod/start", "start"),
        ("/effectivePeriod/end", "end"),
    ],
    "services": [("/code", "code"), ("/occurrenceDateTime", "date")],
    "encounters": [("/period", "date")],
    "startbacks": [("/authored", "date"), ("/item", "answers")],
}
_KINDS = {
    "patients": "Patient",
    "conditions": "Condition",
    "observations": "Observation",
    "medications": "MedicationStatement",
    "services": "ChargeItem",
    "encounters": "Encounter",
    "startbacks": "QuestionnaireResponse",
}


@dataclass(frozen=True)
class CsvProblem:
    file: str
    line: int
    column: str
    message: str
    fault: str | None = None  # as on the parser's Problem: None = malformed

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return (
            f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"
        )


class CsvExtractError(ValueError):
    """A CSV extract breaks the documented columns; the text lists each `file:line: column`."""

    def __init__(self, problems: list[CsvProblem]) -> None:
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the CSV extract\n{shown}{more}")
        self.problems = problems


# -- writing ------------------------------------------------------------------------------


def _day(value: Any) -> str:
    return value.isoformat() if value is not None else ""


def _codings(codings: Iterable[f.Coding]) -> str:
    return " ".join(f"{s}|{c}" for s, c in codings)


def _number(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _rows(extract: f.Extract, table: str) -> Iterable[list[str]]:
    if table == "patients":
        for p in extract.patients:
            yield [
                p.id,
                p.cpr,
                p.given,
                p.family,
                _day(p.birth),
                p.gender,
                "true" if p.active else "false",
                "true" if p.deceased else "",
                _day(p.deceased_date),
                p.gp_sor,
                "" if p.insurance_group is None else str(p.insurance_group),
            ]
    elif table in ("conditions", "observations", "medications"):
        for r in extract.table(table):
            first, rest = (r.codings[0], r.codings[1:]) if r.codings else (("", ""), ())
            head = [r.id, r.cpr, first[0], first[1], _codings(rest), r.text]
            if isinstance(r, f.ConditionFact):
                yield [*head, r.status, _day(r.recorded)]
            elif isinstance(r, f.ObservationFact):
                value = r.value_text if r.value_kind == "string" else _number(r.number)
                yield [*head, _day(r.date), r.value_kind, value, r.unit]
            else:
                yield [*head, r.status, _day(r.start), _day(r.end)]
    elif table == "services":
        for s in extract.services:
            yield [s.id, s.cpr, s.code, _day(s.date)]
    elif table == "encounters":
        for e in extract.encounters:
            yield [e.id, e.cpr, _codings(e.reasons), _day(e.date)]
    else:
        for q in extract.startbacks:
            yield [q.id, q.cpr, q.status, _day(q.date), q.answers]


def _csv_text(header: list[str], rows: Iterable[list[str]]) -> str:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def write_extract_csv(extract: f.Extract, folder: Path) -> list[Path]:
    """One CSV per table (header only when empty) plus clinic.csv; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    clinic = [
        extract.clinic_sor,
        extract.clinic_name,
        _day(extract.register_updated),
        _day(extract.as_of),
    ]
    texts = {"clinic.csv": _csv_text(CLINIC_COLUMNS, [clinic])}
    for table, header in COLUMNS.items():
        texts[f"{table}.csv"] = _csv_text(header, _rows(extract, table))
    written = []
    for name, text in texts.items():
        # written beside, then moved: a reader never meets half a file
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(folder / name)
        written.append(folder / name)
    return written


# -- reading ------------------------------------------------------------------------------


@dataclass
class _Origin:
    file: str
    line: int
    table: str


class _Builder:
    """CSV rows → a transaction Bundle, remembering where each entry came from."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.entries: list[dict[str, Any]] = []
        self.origins: list[_Origin] = []
        self.problems: list[CsvProblem] = []
        self.patient_ref: dict[str, str] = {}
        self.org_ref: dict[str, str] = {}
        self.timestamp = ""

    def add(self, resource: dict[str, Any], full_url: str, origin: _Origin) -> None:
        self.entries.append(
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
        self.origins.append(origin)

    def table(
        self, name: str, columns: list[str], required: bool
    ) -> list[tuple[int, dict[str, str]]]:
        path = self.folder / name
        if not path.exists():
            if required:
                self.problems.append(CsvProblem(str(path), 1, "", "missing (required file)"))
            return []
        try:
            text = read_limited(path, MAX_CSV_BYTES).decode("utf-8-sig")
        except InputFileError as exc:
            self.problems.append(CsvProblem(str(path), 1, "", f"cannot read: {exc.reason}"))
            return []
        except UnicodeDecodeError as exc:
            self.problems.append(CsvProblem(str(path), 1, "", f"not UTF-8: {exc.reason}"))
            return []
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        rows: list[tuple[int, dict[str, str]]] = []
        try:
            header = next(reader, None)
            if header is None:
                self.problems.append(CsvProblem(str(path), 1, "", "empty file (no header)"))
                return []
            unknown = [c for c in header if c not in columns]
            missing = [c for c in columns if c not in header]
            if unknown or missing or len(set(header)) != len(header):
                self.problems.append(
                    CsvProblem(
                        str(path),
                        1,
                        "",
                        f"header must name the columns {','.join(columns)}"
                        + (f"; unknown {unknown}" if unknown else "")
                        + (f"; missing {missing}" if missing else ""),
                    )
                )
                return []
            for values in reader:
                line = reader.line_num
                if not values:
                    continue
                if len(values) != len(header):
                    self.problems.append(
                        CsvProblem(
                            str(path),
                            line,
                            "",
                            f"{len(values)} fields, the header has {len(header)}",
                        )
                    )
                    continue
                rows.append((line, dict(zip(header, values, strict=True))))
        except csv.Error as exc:
            self.problems.append(CsvProblem(str(path), reader.line_num, "", f"not CSV: {exc}"))
        return rows

    def org(self, sor: str) -> str:
        if sor not in self.org_ref:
            ref = f"urn:kcert:csv:organization:{sor}"
            self.org_ref[sor] = ref
            self.add(
                {"resourceType": "Organization", "identifier": [{"system": SOR, "value": sor}]},
                ref,
                _Origin(str(self.folder / "patients.csv"), 1, "patients"),
            )
        return self.org_ref[sor]


def _coded(row: dict[str, str], system: str = "system") -> dict[str, Any]:
    codings = []
    if row[system] or row["code"]:
        codings.append({"system": row[system], "code": row["code"]})
    codings += [
        {"system": s, "code": c}
        for s, _, c in (pair.partition("|") for pair in row["other_codings"].split())
    ]
    concept: dict[str, Any] = {"coding": codings} if codings else {}
    if row["text"]:
        concept["text"] = row["text"]
    return concept


def _flag(text: str) -> Any:
    return {"true": True, "false": False}.get(text, text)


def _integer(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        return text  # the parser names the field and says what it must be


def _decimal(text: str) -> Any:
    try:
        return (
            float(text) if text.strip().lower() not in ("nan", "inf", "-inf", "infinity") else text
        )
    except ValueError:
        return text


def _resource(b: _Builder, table: str, row: dict[str, str]) -> dict[str, Any]:
    subject = {"reference": b.patient_ref.get(row["cpr"], f"urn:kcert:csv:no-patient:{row['cpr']}")}
    r: dict[str, Any] = {"resourceType": _KINDS[table]}
    if table == "patients":
        r["identifier"] = [{"system": CPR, "value": row["cpr"]}]
        r["name"] = [{"family": row["family"], "given": [row["given"]]}]
        if row["birth_date"]:
            r["birthDate"] = row["birth_date"]
        r["gender"] = row["gender"]
        if row["active"]:
            r["active"] = _flag(row["active"])
        if row["deceased"]:
            r["deceasedBoolean"] = _flag(row["deceased"])
        if row["deceased_date"]:
            r["deceasedDateTime"] = row["deceased_date"]
        if row["gp_sor"]:
            r["generalPractitioner"] = [{"reference": b.org(row["gp_sor"])}]
        if row["insurance_group"]:
            r["extension"] = [{"url": INSURANCE, "valueInteger": _integer(row["insurance_group"])}]
    elif table == "conditions":
        r["subject"], r["code"] = subject, _coded(row)
        if row["status"]:
            r["clinicalStatus"] = {"coding": [{"system": CLINICAL, "code": row["status"]}]}
        if row["recorded_date"]:
            r["recordedDate"] = row["recorded_date"]
    elif table == "observations":
        r["subject"], r["code"] = subject, _coded(row)
        r["effectiveDateTime"] = row["date"]
        kind, value = row["value_kind"], row["value"]
        if kind == "quantity":
            r["valueQuantity"] = {"value": _decimal(value)}
            if row["unit"]:
                r["valueQuantity"]["unit"] = row["unit"]
        elif kind == "integer":
            r["valueInteger"] = _integer(value)
        elif kind == "string":
            r["valueString"] = value
    elif table == "medications":
        r["subject"], r["status"] = subject, row["status"]
        r["medicationCodeableConcept"] = _coded(row)
        r["effectivePeriod"] = {"start": row["start"]}
        if row["end"]:
            r["effectivePeriod"]["end"] = row["end"]
    elif table == "services":
        r["subject"], r["occurrenceDateTime"] = subject, row["date"]
        r["code"] = {"coding": [{"system": SERVICE, "code": row["code"]}]}
    elif table == "encounters":
        r["subject"], r["period"] = subject, {"start": row["date"]}
        r["reasonCode"] = [
            {"coding": [{"system": s, "code": c}]}
            for s, _, c in (pair.partition("|") for pair in row["reasons"].split())
        ]
    else:
        r.update(
            subject=subject, questionnaire=STARTBACK, status=row["status"], authored=row["date"]
        )
        r["item"] = [
            {"linkId": str(n), "answer": [{"valueBoolean": a == "1"}]}
            for n, a in enumerate(row["answers"], start=1)
            if a != "-"
        ]
    return r


def _csv_checks(b: _Builder, table: str, file: str, line: int, row: dict[str, str]) -> bool:
    """What only the CSV form can get wrong; False = the row is not turned into a resource."""
    if table == "observations" and row["value_kind"] not in VALUE_KINDS:
        b.problems.append(
            CsvProblem(
                file, line, "value_kind", f"must be one of {', '.join(VALUE_KINDS[:3])} or empty"
            )
        )
        return False
    if table == "startbacks" and (len(row["answers"]) != 9 or set(row["answers"]) - set("10-")):
        b.problems.append(
            CsvProblem(file, line, "answers", "nine characters 1 (agree), 0 or - (not answered)")
        )
        return False
    if table == "patients" and row["cpr"] in b.patient_ref:
        b.problems.append(CsvProblem(file, line, "cpr", "CPR number used by two patients"))
        return False
    return True


def read_csv_bundle(folder: Path) -> tuple[dict[str, Any], _Builder]:
    b = _Builder(folder)
    clinic_file = str(folder / "clinic.csv")
    clinic_rows = b.table("clinic.csv", CLINIC_COLUMNS, required=True)
    if b.problems:
        return {}, b
    if len(clinic_rows) != 1:
        b.problems.append(CsvProblem(clinic_file, 2, "", "clinic.csv holds exactly one row"))
        return {}, b
    line, clinic = clinic_rows[0]
    own: dict[str, Any] = {
        "resourceType": "Organization",
        "meta": {"tag": [{"system": CLINIC_TAG, "code": "own-clinic"}]},
        "identifier": [{"system": SOR, "value": clinic["sor"]}] if clinic["sor"] else [],
        "name": clinic["name"],
    }
    if clinic["register_updated"]:
        own["extension"] = [{"url": REGISTER_UPDATED, "valueDate": clinic["register_updated"]}]
    b.org_ref[clinic["sor"]] = "urn:kcert:csv:organization:own"
    b.add(own, "urn:kcert:csv:organization:own", _Origin(clinic_file, line, "clinic"))
    b.timestamp = clinic["as_of"]
    for table, columns in COLUMNS.items():
        file = str(folder / f"{table}.csv")
        for line, row in b.table(f"{table}.csv", columns, required=table == "patients"):
            if not _csv_checks(b, table, file, line, row):
                continue
            full_url = row["id"] or f"urn:kcert:csv:{table}:{line}"
            if table == "patients":
                b.patient_ref[row["cpr"]] = full_url
            b.add(_resource(b, table, row), full_url, _Origin(file, line, table))
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "transaction", "entry": b.entries}
    if b.timestamp:
        bundle["timestamp"] = b.timestamp
    return bundle, b


def located(parsed: Parsed, b: _Builder, problems: Iterable[Any]) -> list[CsvProblem]:
    """The parser's pointer problems as `file:line: column` ones."""
    out = []
    for problem in problems:
        pointer = problem.pointer
        if pointer == "/timestamp":
            out.append(CsvProblem(str(b.folder / "clinic.csv"), 2, "as_of", problem.message))
            continue
        parts = pointer.split("/")
        if len(parts) < 3 or parts[1] != "entry" or not parts[2].isdigit():
            out.append(CsvProblem(str(b.folder / "clinic.csv"), 2, "sor", problem.message))
            continue
        origin = b.origins[int(parts[2])]
        rest = "/" + "/".join(parts[3:]) if len(parts) > 3 else ""
        rest = rest.removeprefix("/resource") if origin.table != "clinic" else rest
        column = "cpr" if rest.startswith("/subject") else "id"
        for prefix, name in _FIELDS[origin.table]:
            if rest.startswith(prefix) and (prefix or not rest):
                column = name
                break
        out.append(CsvProblem(origin.file, origin.line, column, problem.message, problem.fault))
    return out


def _where(b: _Builder, pointer: str) -> str:
    parts = pointer.split("/")
    if len(parts) > 2 and parts[1] == "entry" and parts[2].isdigit():
        origin = b.origins[int(parts[2])]
        return f"{origin.file}:{origin.line}"
    return pointer


def read_csv_parsed(folder: Path) -> tuple[Parsed, list[CsvProblem]]:
    """The CSV folder through the one parser; `problems` are CSV-located, faults included."""
    bundle, b = read_csv_bundle(folder)
    if b.problems:
        return Parsed(str(folder)), b.problems
    parsed = parse_bundle(bundle, str(folder))
    # each row says the CSV line it came from, not the pointer into the Bundle made from it
    for name in f.FACT_TABLES:
        rows = parsed.patients.values() if name == "patients" else getattr(parsed, name)
        for row in rows:
            row.at = _where(b, row.at)
    return parsed, located(parsed, b, parsed.problems)
