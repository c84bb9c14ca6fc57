"""Golden results.json of the clean reference run: ids, times and ports normalised."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import jsonschema

from harness.fixtures import FIXTURES_DIR
from harness.model.result import RunResult
from harness.report.results_json import to_results

GOLDEN = FIXTURES_DIR / "expected" / "golden-results-reference.json"
SCHEMA = Path(__file__).resolve().parent.parent / "report" / "results.schema.json"

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PORT = re.compile(r"127\.0\.0\.1:[0-9]+")  # kcert's peer listens on a free port
_LETTER = re.compile(r"\bR[LE][0-9A-F]{10}\b")  # the reference LPS's OIOXML letter ids
_VOLATILE = {
    "started",
    "finished",
    "duration_ms",
    "run_id",
    "suite_version",
    "sha256",
    "answered_at",
}


def normalise(value: Any, key: str = "") -> Any:
    if key in _VOLATILE:
        return "<volatile>"
    if isinstance(value, dict):
        if key in ("request_headers", "response_headers"):
            return sorted(k.lower() for k in value if k.lower() not in ("date", "content-length"))
        return {k: normalise(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, key) for v in value]
    if isinstance(value, str):
        return _LETTER.sub("<letter>", _PORT.sub("127.0.0.1:<port>", _UUID.sub("<uuid>", value)))
    return value


def test_results_json_matches_schema(clean_run: RunResult) -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(to_results(clean_run), schema)


def test_clean_run_matches_golden(clean_run: RunResult) -> None:
    got = normalise(to_results(clean_run))
    if os.environ.get("KCERT_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(got, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    expected = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert got == expected, "results.json changed; if intended: KCERT_UPDATE_GOLDEN=1 make pytest"
