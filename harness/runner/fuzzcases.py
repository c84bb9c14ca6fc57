"""contract-fuzz cases: generated once per contract version and seed, then replayed from disk.

Generating requests from the contract (hypothesis through schemathesis) costs several times
what sending them does, and for one contract, seed and set of library versions it always gives
the same requests. So the cases are written to kcert's cache folder (`KCERT_CACHE`, default
~/.kcert/cache, subfolder `fuzz`) as JSON and rebuilt from there: keyed by the contract's
SHA-256, the operations, the example count, the seed and the kcert, schemathesis and
hypothesis versions, so a changed contract (or library) generates afresh. Every run — the one
that generated them too — sends the cases as rebuilt from that JSON, so a replay is the run
that made it. Files are written whole then renamed (concurrent runs see an old file or a new
one, never half); the folder keeps at most MAX_FILES entries, each read only up to
MAX_FILE_BYTES; anything unreadable is generated again.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from harness import __version__

FORMAT = "kcert-fuzz-1"
DEFAULT_SEED = 2027
MAX_FILES = 32
MAX_FILE_BYTES = 8 * 1024 * 1024


class UnknownOperation(LookupError):
    """The contract has no such operation."""


def cache_dir() -> Path:
    base = os.environ.get("KCERT_CACHE")
    return (Path(base) if base else Path.home() / ".kcert" / "cache") / "fuzz"


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def cache_key(contract: bytes, operations: Sequence[str], max_examples: int, seed: int) -> str:
    parts = [
        FORMAT,
        __version__,
        _version("schemathesis"),
        _version("hypothesis"),
        hashlib.sha256(contract).hexdigest(),
        str(seed),
        str(max_examples),
        *operations,
    ]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


def fuzz_cases(
    schema: Any,
    contract: bytes,
    operations: Sequence[str],
    max_examples: int,
    seed: int = DEFAULT_SEED,
    folder: Path | None = None,
) -> dict[str, list[Any]]:
    """Per operation label ("GET /path"), the schemathesis cases to send, in order."""
    folder = folder or cache_dir()
    key = cache_key(contract, operations, max_examples, seed)
    stored = _load(folder / f"{key}.json")
    if stored is not None:
        try:
            return _rebuilt(schema, operations, stored)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a damaged entry: generated again below
    stored = {label: generate(schema, label, max_examples, seed) for label in operations}
    _store(folder, key, stored)
    return _rebuilt(schema, operations, stored)


def _rebuilt(
    schema: Any, operations: Sequence[str], stored: dict[str, list[dict[str, Any]]]
) -> dict[str, list[Any]]:
    return {label: [_case(schema, label, data) for data in stored[label]] for label in operations}


def _operation(schema: Any, label: str) -> Any:
    method, path = label.split(" ", 1)
    try:
        return schema[path][method]
    except LookupError:  # schemathesis's OperationNotFound for the path, KeyError for a method
        raise UnknownOperation(label) from None


def generate(schema: Any, label: str, max_examples: int, seed: int) -> list[dict[str, Any]]:
    """The cases hypothesis draws for one operation (serialised), without sending any."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as seeded

    operation = _operation(schema, label)
    drawn: list[dict[str, Any]] = []

    def collect(case: Any) -> None:
        drawn.append(serialise(case))

    limits = settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    test: Callable[[], None] = seeded(seed)(limits(given(case=operation.as_strategy())(collect)))
    test()
    return drawn


def serialise(case: Any) -> dict[str, Any]:
    from schemathesis.core import NotSet

    body: dict[str, Any]
    if isinstance(case.body, NotSet):
        body = {}
    elif isinstance(case.body, bytes | bytearray):
        body = {"bytes": base64.b64encode(bytes(case.body)).decode("ascii")}
    else:
        body = {"json": case.body}
    return {
        "method": case.method,
        "path_parameters": case.path_parameters,
        "headers": dict(case.headers or {}),
        "cookies": case.cookies,
        "query": case.query,
        "body": body,
        "media_type": case.media_type,
        "multipart_content_types": case.multipart_content_types,
        "meta": case.meta.to_dict() if case.meta is not None else None,
    }


def _case(schema: Any, label: str, data: dict[str, Any]) -> Any:
    from schemathesis.core import NOT_SET
    from schemathesis.generation.meta import CaseMetadata

    operation = _operation(schema, label)
    body = data["body"]
    if "json" in body:
        value: Any = body["json"]
    elif "bytes" in body:
        value = base64.b64decode(body["bytes"])
    else:
        value = NOT_SET
    meta = CaseMetadata.from_dict(data["meta"]) if data["meta"] is not None else None
    case = operation.Case(
        method=data["method"],
        path_parameters=data["path_parameters"],
        headers=data["headers"],
        cookies=data["cookies"],
        query=data["query"],
        body=value,
        media_type=data["media_type"],
        multipart_content_types=data["multipart_content_types"],
        _meta=meta,
    )
    return case


def _load(path: Path) -> dict[str, list[dict[str, Any]]] | None:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            return None
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            return None
        cases = data["cases"]
        if not isinstance(cases, dict):
            return None
        return cases
    except (OSError, ValueError, KeyError):
        return None


def _store(folder: Path, key: str, cases: dict[str, list[dict[str, Any]]]) -> None:
    """Best effort: a read-only or full disk only costs the next run a regeneration."""
    text = json.dumps({"format": FORMAT, "cases": cases}, ensure_ascii=False)
    if len(text.encode("utf-8")) > MAX_FILE_BYTES:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{key}", suffix=".tmp")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, folder / f"{key}.json")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _bound(folder)
    except OSError:
        pass


def _bound(folder: Path) -> None:
    """Keep the newest MAX_FILES entries; a file another run removes first is no matter."""
    entries: list[tuple[float, Path]] = []
    for path in folder.glob("*.json"):
        try:
            entries.append((path.stat().st_mtime, path))
        except OSError:
            continue
    entries.sort(reverse=True)
    for _, path in entries[MAX_FILES:]:
        path.unlink(missing_ok=True)


__all__ = ["DEFAULT_SEED", "UnknownOperation", "cache_key", "fuzz_cases", "generate"]
