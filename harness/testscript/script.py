"""TestScript files: find them, read them (JSON or XML) and name their parts."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.fhir.resource import FhirReadError, read_resource
from harness.inputfile import InputFileError, read_limited
from harness.safeparse import PayloadError

SUFFIXES = (".json", ".xml")


class ScriptError(ValueError):
    """A file named as a TestScript cannot be read as one; the text starts with the file name."""


@dataclass(frozen=True)
class Where:
    """An action's place in its script, for messages: `file:test[0].action[2]`."""

    file: str
    section: str  # "setup", "test[0]", "teardown"
    index: int

    def __str__(self) -> str:
        return f"{self.file}:{self.section}.action[{self.index}]"


@dataclass(frozen=True)
class Script:
    """One TestScript resource as JSON-shaped data, with the file it came from."""

    path: Path
    root: Path  # fixtures are looked up inside this folder tree
    data: dict[str, Any]
    sha256: str

    @property
    def id(self) -> str:
        value = self.data.get("id")
        return value if isinstance(value, str) and value else self.path.stem

    @property
    def title(self) -> str:
        for key in ("title", "name", "description"):
            value = self.data.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return self.id

    @property
    def file(self) -> str:
        return self.path.name

    def tests(self) -> list[dict[str, Any]]:
        return [t for t in self.data.get("test", []) if isinstance(t, dict)]

    def section(self, name: str) -> dict[str, Any] | None:
        value = self.data.get(name)
        return value if isinstance(value, dict) else None

    def client_mode(self) -> bool:
        """True when the SUT is the FHIR client of the script (some operation has an origin).

        MedCom's TouchStone scripts declare origin 1 (the system under test, a client) and
        destination 1 (TouchStone's server): kcert then plays that server.
        """
        for _, block in self.blocks():
            for action in block.get("action", []) or []:
                operation = action.get("operation") if isinstance(action, dict) else None
                if isinstance(operation, dict) and "origin" in operation:
                    return True
        return False

    def blocks(self) -> Iterator[tuple[str, dict[str, Any]]]:
        setup = self.section("setup")
        if setup:
            yield "setup", setup
        for index, test in enumerate(self.tests()):
            yield f"test[{index}]", test
        teardown = self.section("teardown")
        if teardown:
            yield "teardown", teardown


def discover(paths: list[Path]) -> list[tuple[Path, Path]]:
    """(file, root) for every TestScript file named or inside a named folder, sorted."""
    found: list[tuple[Path, Path]] = []
    for path in paths:
        if path.is_dir():
            for file in sorted(path.rglob("*")):
                if file.is_file() and file.suffix.lower() in SUFFIXES and _looks_like(file):
                    found.append((file, path))
        elif path.is_file():
            found.append((path, path.parent))
        elif path.exists():
            raise ScriptError(f"{path}: not a regular file or folder; refused unread")
        else:
            raise ScriptError(f"{path}: no such file or folder")
    return found


def _looks_like(file: Path) -> bool:
    """Inside a folder only TestScripts count (fixtures live next to them)."""
    try:
        with file.open("rb") as handle:  # only the head: a folder may hold anything
            head = handle.read(4096)
    except OSError:
        return False
    return b"TestScript" in head


MAX_SCRIPT_BYTES = 10 * 1024 * 1024


def load_script(path: Path, root: Path | None = None) -> Script:
    try:
        body = read_limited(path, MAX_SCRIPT_BYTES)
    except InputFileError as exc:
        raise ScriptError(f"{path}: cannot read ({exc.reason})") from None
    try:
        _, data = read_resource(body, "xml" if path.suffix.lower() == ".xml" else "")
    except (PayloadError, FhirReadError) as exc:
        raise ScriptError(f"{path}: not a readable FHIR resource: {exc}") from None
    if data.get("resourceType") != "TestScript":
        raise ScriptError(
            f"{path}: not a TestScript (resourceType is {data.get('resourceType')!r})"
        )
    problems = _shape_problems(data)
    if problems:
        raise ScriptError(f"{path}: {problems[0]}")
    return Script(path, root or path.parent, data, hashlib.sha256(body).hexdigest())


def _shape_problems(data: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    tests = data.get("test", [])
    if not isinstance(tests, list):
        return ["TestScript.test must be a list"]
    if not tests and not isinstance(data.get("setup"), dict):
        problems.append("the TestScript has neither setup nor test: nothing to run")
    blocks: list[tuple[str, Any]] = [(f"test[{i}]", t) for i, t in enumerate(tests)]
    blocks += [(name, data[name]) for name in ("setup", "teardown") if name in data]
    for name, block in blocks:
        if not isinstance(block, dict) or not isinstance(block.get("action", []), list):
            problems.append(f"TestScript.{name} must be an object with an action list")
            continue
        for index, action in enumerate(block.get("action", [])):
            if not isinstance(action, dict) or not (
                isinstance(action.get("operation"), dict) or isinstance(action.get("assert"), dict)
            ):
                problems.append(
                    f"TestScript.{name}.action[{index}] is neither operation nor assert"
                )
    for key in ("fixture", "variable", "profile"):
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            problems.append(f"TestScript.{key} must be a list of objects")
    return problems
