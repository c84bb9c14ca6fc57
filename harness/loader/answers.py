"""Answers files: a tester's pre-recorded answers to attended steps (YAML, checked at file:line).

```yaml
tester: Tove Tester (MedCom)
answers:
  - case: CC-R-13
    step: 2
    verdict: OK            # OK, F1, F2, F3 or F4
    note: Beskeden vises i indbakken med afsender og emne
    attachments: [inbox.png]   # relative to this file
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.model.answer import VERDICTS, Attachment, ManualAnswer
from harness.model.protocol import Protocol
from harness.runner.engine import now_iso
from harness.yamlsource import check_schema, load_yaml

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
                    "at": {"type": "string"},
                    "attachments": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def load_answers(
    path: Path, protocols: list[Protocol] | None, tester: str = ""
) -> list[ManualAnswer]:
    """Every answer must name a manual step of the protocols in scope; no step twice.

    `protocols=None` (pytest collects protocol files one by one) skips the scope check.
    """
    doc = load_yaml(path)
    check_schema(doc, SCHEMA)
    manual = {
        (c.id, s.id): p.id for p in protocols or [] for c in p.cases for s in c.steps if s.manual
    }
    default_tester = tester or str(doc.data.get("tester", ""))
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
                size = file.stat().st_size
                if size > MAX_ATTACHMENT_BYTES:
                    raise doc.error(
                        (*where, "attachments", ai),
                        f"{name}: {size} bytes, more than {MAX_ATTACHMENT_BYTES}",
                    )
                files.append(Attachment(file.name, file.read_bytes()))
            except OSError as exc:
                raise doc.error((*where, "attachments", ai), f"{name}: {exc.strerror}") from None
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
                answered_at=str(raw.get("at") or now_iso()),
                attachments=tuple(files),
            )
        )
    return answers
