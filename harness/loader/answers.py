"""Answers files: a tester's pre-recorded answers to attended steps (YAML, checked at file:line).

```yaml
tester: Tove Tester (MedCom)   # who answered (an answer may name its own `tester`)
answers:
  - case: CC-R-13
    step: 2
    verdict: OK            # OK, F1, F2, F3 or F4
    note: Beskeden vises i indbakken med afsender og emne
    at: 2027-03-01T10:15:00+01:00   # when it was observed (ISO 8601); optional
    attachments: [inbox.png]   # relative to this file
```

Who answered and when are kept as the file says: an answer's own `tester`, else the file's;
only a file naming nobody takes the operator's name (`--tester`, who runs the run). An
answer without `at` carries no time ("time not recorded"), never the time it was loaded.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from harness.inputfile import InputFileError, read_limited
from harness.model.answer import VERDICTS, Attachment, ManualAnswer
from harness.model.protocol import Protocol
from harness.yamlsource import YamlDocument, check_schema, load_yaml

MAX_ATTACHMENT_BYTES = 25 * 1024 * 1024

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["answers"],
    "properties": {
        "tester": {"type": "string", "minLength": 1},
        "answers": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["case", "step", "verdict"],
                "properties": {
                    "case": {"type": "string", "minLength": 1},
                    "step": {"type": ["string", "integer"]},
                    "verdict": {"enum": list(VERDICTS)},
                    "note": {"type": "string"},
                    "tester": {"type": "string", "minLength": 1},
                    # a string, or the timestamp YAML reads from an unquoted one
                    "at": {},
                    "attachments": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def load_answers(
    path: Path, protocols: list[Protocol] | None, operator: str = ""
) -> list[ManualAnswer]:
    """Every answer must name a manual step of the protocols in scope; no step twice.

    `protocols=None` (pytest collects protocol files one by one) skips the scope check.
    `operator` (who runs the run) answers for a file that names no tester, never over one.
    """
    doc = load_yaml(path)
    check_schema(doc, SCHEMA)
    manual = {
        (c.id, s.id): p.id for p in protocols or [] for c in p.cases for s in c.steps if s.manual
    }
    default_tester = str(doc.data.get("tester", "")) or operator
    seen: set[tuple[str, str]] = set()
    answers = []
    for index, raw in enumerate(doc.data["answers"]):
        key = (raw["case"], str(raw["step"]))
        where = ("answers", index)
        if protocols is not None and key not in manual:
            raise doc.error(
                (*where, "step"),
                f"{key[0]} step {key[1]} is not a manual step of the protocols in scope",
            )
        if key in seen:
            raise doc.error(where, f"{key[0]} step {key[1]} is answered twice")
        seen.add(key)
        files = []
        for ai, name in enumerate(raw.get("attachments", [])):
            file = (path.parent / name).resolve()
            try:
                files.append(Attachment(file.name, read_limited(file, MAX_ATTACHMENT_BYTES)))
            except InputFileError as exc:
                raise doc.error((*where, "attachments", ai), f"{name}: {exc.reason}") from None
        who = str(raw.get("tester") or default_tester)
        if not who:
            raise doc.error(where, "no tester: give 'tester' in the file or --tester")
        answers.append(
            ManualAnswer(
                protocol_id=manual.get(key, ""),
                case_id=key[0],
                step_id=key[1],
                verdict=raw["verdict"],
                note=str(raw.get("note", "")),
                tester=who,
                answered_at=_answered_at(doc, (*where, "at"), raw.get("at")),
                attachments=tuple(files),
            )
        )
    return answers


def _answered_at(doc: YamlDocument, where: tuple[str | int, ...], value: Any) -> str:
    """The time as written (ISO 8601, with a date and a time), or "" when none is given."""
    if value is None or value == "":
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is not None and ("T" in value or " " in value):
            return value
    raise doc.error(
        where, f"{value!r} is not a date and time (ISO 8601, e.g. 2027-03-01T10:15:00+01:00)"
    )
