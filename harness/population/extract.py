"""The lenient extract reader: a clinic's data as facts to score, faults kept, nothing half-read.

`read_extract(path)` reads a population Bundle (JSON) or the CSV form (a folder with
`clinic.csv`, `patients.csv`, …) through the one parser the strict reader uses (`parse.py`).
A data-quality fault the strict reader refuses (an uncoded diagnosis, a lab result under a
local code, a Patient without a general practitioner, a birthDate that is not the CPR's) stays
on its row, named in `row.faults`; anything else wrong — malformed JSON or CSV, a broken
reference, a date that is no date, a real-format CPR — is an `ExtractError` listing every
problem at `file#/pointer` (JSON) or `file:line: column` (CSV), and no Extract at all.

`read_clinics(folder)` reads a folder of extracts (many clinics) with its optional
`labels.csv` (`extract,vendor,cluster`).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from harness.inputfile import InputFileError, read_limited
from harness.population.extractcsv import CsvProblem, read_csv_parsed
from harness.population.facts import Extract
from harness.population.parse import Parsed, Problem, parse_bundle
from harness.population.reader import POPULATION_LIMITS
from harness.safeparse import PayloadError, parse_json

LABELS = "labels.csv"
LABEL_COLUMNS = ("extract", "vendor", "cluster")


class ExtractError(ValueError):
    """The extract is malformed (not a data-quality fault): fix the file at the places listed."""

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = "\n".join(f"  {p}" for p in problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{source}: {len(problems)} problem(s) in the extract\n{shown}{more}")
        self.source = source
        self.problems = problems


def is_csv_extract(path: Path) -> bool:
    return path.is_dir() and (path / "clinic.csv").is_file()


def read_extract(path: Path) -> Extract:
    """One clinic's extract, JSON file or CSV folder; ExtractError when malformed."""
    if path.is_dir():
        parsed, located = read_csv_parsed(path)
        errors = [str(p) for p in located if p.fault is None]
    else:
        parsed = _parse_json_file(path)
        errors = [f"{path}#{p}" for p in parsed.problems if p.fault is None]
    if errors:
        raise ExtractError(str(path), errors)
    return extract_of(parsed)


def _parse_json_file(path: Path) -> Parsed:
    try:
        data = parse_json(read_limited(path, POPULATION_LIMITS.max_bytes), POPULATION_LIMITS)
    except InputFileError as exc:
        raise ExtractError(str(path), [f"{path}: {exc.reason}"]) from None
    except PayloadError as exc:
        raise ExtractError(str(path), [f"{path}: {exc}"]) from None
    return parse_bundle(data, str(path))


def read_extract_data(data: object, source: str) -> Extract:
    """An already parsed Bundle as an extract (the generator's output, tests)."""
    parsed = parse_bundle(data, source)
    errors = [f"{source}#{p}" for p in parsed.problems if p.fault is None]
    if errors:
        raise ExtractError(source, errors)
    return extract_of(parsed)


def extract_of(parsed: Parsed) -> Extract:
    own = parsed.own_clinic()
    return Extract(
        source=parsed.source,
        clinic_sor=own.sor if own else "",
        clinic_name=own.name if own else "",
        as_of=parsed.as_of,
        register_updated=own.register_updated if own else None,
        patients=list(parsed.patients.values()),
        conditions=parsed.conditions,
        observations=parsed.observations,
        medications=parsed.medications,
        services=parsed.services,
        encounters=parsed.encounters,
        startbacks=parsed.startbacks,
    )


def faults_of(problems: list[Problem] | list[CsvProblem]) -> list[str]:
    """The noted faults among problems, as text (for a report of what was kept)."""
    return [str(p) for p in problems if p.fault is not None]


@dataclass
class ClinicExtract:
    name: str  # the file or folder name within the folder of extracts
    extract: Extract
    vendor: str = ""
    cluster: str = ""


TRUTH_SUFFIX = ".truth.json"  # the ground truth `population generate --faults` writes beside


def clinic_paths(folder: Path) -> list[Path]:
    """The extracts of a folder: `*.json` files and CSV extract folders, by name; the ground
    truth files of planted faults beside them (`*.truth.json`) are not extracts."""
    found = [
        p
        for p in folder.iterdir()
        if (
            p.is_file()
            and p.suffix == ".json"
            and not p.name.endswith(TRUTH_SUFFIX)
            and not p.is_symlink()
        )
        or is_csv_extract(p)
    ]
    return sorted(found, key=lambda p: p.name)


def read_labels(path: Path, known: set[str]) -> dict[str, tuple[str, str]]:
    """extract name → (vendor, cluster); errors at `labels.csv:line: column`."""
    try:
        text = read_limited(path, 64 * 1024 * 1024).decode("utf-8-sig")
    except (InputFileError, UnicodeDecodeError) as exc:
        raise ExtractError(str(path), [f"{path}:1: cannot read: {exc}"]) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    problems: list[str] = []
    labels: dict[str, tuple[str, str]] = {}
    try:
        header = next(reader, None)
        if header is None or sorted(header) != sorted(LABEL_COLUMNS):
            raise ExtractError(
                str(path), [f"{path}:1: header must be {','.join(LABEL_COLUMNS)}, got {header}"]
            )
        for values in reader:
            if not values:
                continue
            line = reader.line_num
            if len(values) != len(header):
                problems.append(f"{path}:{line}: {len(values)} fields, the header has 3")
                continue
            row = dict(zip(header, values, strict=True))
            name = row["extract"]
            if name not in known:
                problems.append(f"{path}:{line}: extract: {name!r} is no extract of the folder")
            elif name in labels:
                problems.append(f"{path}:{line}: extract: {name!r} labelled twice")
            else:
                labels[name] = (row["vendor"], row["cluster"])
    except csv.Error as exc:
        problems.append(f"{path}:{reader.line_num}: not CSV: {exc}")
    if problems:
        raise ExtractError(str(path), problems)
    return labels


def read_clinics(folder: Path) -> list[ClinicExtract]:
    """Every extract of `folder` (all or none: the first malformed one raises)."""
    if not folder.is_dir():
        raise ExtractError(str(folder), [f"{folder}: not a folder of extracts"])
    paths = clinic_paths(folder)
    if not paths:
        raise ExtractError(
            str(folder), [f"{folder}: no extract (*.json, or a folder with clinic.csv)"]
        )
    labels_path = folder / LABELS
    labels = read_labels(labels_path, {p.name for p in paths}) if labels_path.is_file() else {}
    clinics = []
    for path in paths:
        vendor, cluster = labels.get(path.name, ("", ""))
        clinics.append(ClinicExtract(path.name, read_extract(path), vendor, cluster))
    return clinics
