"""Load protocol YAML into the model; every problem is a SourceError at file:line."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checks.fhir_checks import FHIRPATH_VARIABLES
from harness.fhir.fhirpath import FhirPathError, compile_expression, evaluate
from harness.fixtures import TemplateRenderer, load_peers, load_persons
from harness.loader.schema import protocol_schema
from harness.model.i18n import Text
from harness.model.outcome import Severity
from harness.model.protocol import Action, Expectation, Protocol, Source, Step, TestCase
from harness.model.scope import Needs
from harness.runner.operations import action_operations
from harness.suitefiles import display_root
from harness.yamlsource import SourceError, YamlDocument, check_schema, load_yaml

PROTOCOL_SUFFIXES = (".yaml", ".yml")
RESET_ACTION = "reset"


def is_protocol_file(path: Path) -> bool:
    return path.suffix in PROTOCOL_SUFFIXES and path.is_file()


def load_protocol(
    path: Path, renderer: TemplateRenderer | None = None, display_name: str | None = None
) -> Protocol:
    """Read, schema-check and cross-check one protocol file."""
    doc = load_yaml(path, display_name)
    if isinstance(doc.data, dict) and SCENARIO_MARKER in doc.data:
        raise doc.error(
            (SCENARIO_MARKER,),
            "a connectathon scenario, not a protocol: kcert connectathon runs it as test "
            "instances (a run of one is not resumed or re-judged: run the instance again)",
        )
    check_schema(doc, protocol_schema())
    return protocol_from(doc, hashlib.sha256(path.read_bytes()).hexdigest(), renderer)


def protocol_from(
    doc: YamlDocument,
    sha256: str,
    renderer: TemplateRenderer | None = None,
    *,
    standard_needed: bool = True,
) -> Protocol:
    """Cross-check a schema-checked protocol document and build its model.

    `doc` may be a view of another file (a connectathon scenario maps its steps onto one
    case): every error goes through `doc.error`, so it names that file's line and field.
    `standard_needed` False: the protocol's standard is a label, not a need of its cases
    (a scenario crosses standards; its cases need only what their actions call).
    """
    data = doc.data
    renderer = renderer or TemplateRenderer()
    tables = _Tables(load_persons(), load_peers())
    needs = _needs(data.get("needs"), data["standard"] if standard_needed else "")
    cases = []
    seen_cases: set[str] = set()
    for ci, raw_case in enumerate(data["cases"]):
        if raw_case["id"] in seen_cases:
            raise doc.error(("cases", ci, "id"), f"duplicate test case id {raw_case['id']!r}")
        seen_cases.add(raw_case["id"])
        cases.append(_case(doc, ci, raw_case, renderer, tables, needs))
    return Protocol(
        id=data["id"],
        version=data["version"],
        title=Text.of(data["title"]),
        standard=data["standard"],
        capability=data.get("capability", ""),
        cases=tuple(cases),
        source=Source(doc.file, 1),
        sha256=sha256,
        needs=needs,
    )


def _needs(raw: dict[str, Any] | None, standard: str = "") -> Needs:
    raw = raw or {}
    return Needs(
        standard=str(raw.get("standard") or standard),
        direction=str(raw.get("direction", "")),
        versions=tuple(str(v) for v in raw.get("versions", ())),
        operations=tuple(str(o) for o in raw.get("operations", ())),
    )


@dataclass(frozen=True)
class _Tables:
    persons: dict[str, Any]
    peers: dict[str, Any]


def _src(doc: YamlDocument, *path: str | int) -> Source:
    return Source(doc.file, doc.line_of(tuple(path)))


def _case(
    doc: YamlDocument,
    ci: int,
    raw: dict[str, Any],
    renderer: TemplateRenderer,
    tables: _Tables,
    needs: Needs,
) -> TestCase:
    steps: list[Step] = []
    if raw.get("reset", True):
        steps.append(
            Step(
                id="0",
                handling=Text("Nulstil testdata i SUT", "Reset test data in the SUT"),
                testdata="",
                expected=Text("Testagenten bekræfter nulstilling", "The test agent confirms"),
                action=Action(RESET_ACTION, {}, _src(doc, "cases", ci)),
                expectations=(),
                source=_src(doc, "cases", ci),
            )
        )
    seen_steps: set[str] = {"0"} if steps else set()
    for si, raw_step in enumerate(raw["steps"]):
        where = ("cases", ci, "steps", si)
        step_id = str(raw_step["step"])
        if step_id in seen_steps:
            raise doc.error((*where, "step"), f"duplicate step {step_id!r} in {raw['id']}")
        action = _action(doc, where, raw_step, seen_steps, renderer, tables)
        seen_steps.add(step_id)
        manual = bool(raw_step.get("manual", False))
        if action is None and not manual:
            raise doc.error(where, "a step needs 'do' or 'manual: true'")
        expectations = tuple(
            _expectation(doc, (*where, "expect", ei), raw_exp, seen_steps)
            for ei, raw_exp in enumerate(raw_step.get("expect", []))
        )
        steps.append(
            Step(
                id=step_id,
                handling=Text.of(raw_step["handling"]),
                testdata=str(raw_step.get("testdata", "")),
                expected=Text.of(raw_step["expected"]),
                action=action,
                expectations=expectations,
                source=_src(doc, *where),
                manual=manual,
            )
        )
    called = tuple(op for s in steps if s.action for op in action_operations(s.action))
    case_needs = needs.plus(_needs(raw.get("needs"))).plus(Needs(operations=called))
    return TestCase(
        id=raw["id"],
        title=Text.of(raw["title"]),
        requirements=tuple(raw["requirements"]),
        severity=Severity.parse(raw["severity"]),
        steps=tuple(steps),
        source=_src(doc, "cases", ci),
        description=Text.of(raw.get("description")),
        needs=case_needs,
    )


def _action(
    doc: YamlDocument,
    where: tuple[str | int, ...],
    raw_step: dict[str, Any],
    seen_steps: set[str],
    renderer: TemplateRenderer,
    tables: _Tables,
) -> Action | None:
    if "do" not in raw_step:
        return None
    kind, params = next(iter(raw_step["do"].items()))
    params = dict(params or {})
    template = params.get("template")
    if template and not renderer.exists(template):
        raise doc.error(
            (*where, "do", kind, "template"), f"template {template} not found under fixtures/"
        )
    if template:
        known = renderer.variables(template)
        for name in params.get("vars", {}):
            if name not in known:
                raise doc.error(
                    (*where, "do", kind, "vars", name),
                    f"template {template} has no variable {name!r}; it reads: "
                    + ", ".join(sorted(known)),
                )
    for key, table in (("person", tables.persons), ("peer", tables.peers)):
        if key in params and params[key] not in table:
            raise doc.error(
                (*where, "do", kind, key),
                f"unknown {key} {params[key]!r}; known: {', '.join(sorted(table))}",
            )
    for ref_key in ("step", "of"):
        if ref_key in params and str(params[ref_key]) not in seen_steps:
            raise doc.error(
                (*where, "do", kind, ref_key),
                f"refers to step {params[ref_key]!r}, which does not come before this step",
            )
    return Action(kind, params, _src(doc, *where, "do"))


def _expectation(
    doc: YamlDocument, where: tuple[str | int, ...], raw: dict[str, Any], seen_steps: set[str]
) -> Expectation:
    kinds = [k for k in raw if k != "severity"]
    if len(kinds) != 1:
        raise doc.error(where, "an expectation names exactly one check (plus an optional severity)")
    kind = kinds[0]
    params = dict(raw[kind] or {})
    if "as" in params and str(params["as"]) not in seen_steps:
        raise doc.error(
            (*where, kind, "as"), f"refers to step {params['as']!r}, which has not run yet"
        )
    if "expr" in params:
        _check_fhirpath(doc, (*where, kind, "expr"), params["expr"])
    severity = Severity.parse(raw["severity"]) if "severity" in raw else None
    return Expectation(kind, params, _src(doc, *where), severity)


def _check_fhirpath(doc: YamlDocument, where: tuple[str | int, ...], expr: str) -> None:
    """A FHIRPath mistake is the protocol's fault: report it at collection, not as a finding."""
    for name in re.findall(r"%([A-Za-z_][A-Za-z0-9_]*)", expr):
        if name not in FHIRPATH_VARIABLES:
            raise doc.error(
                where,
                f"unknown FHIRPath variable %{name}; known: "
                + ", ".join(f"%{v}" for v in sorted(FHIRPATH_VARIABLES)),
            )
    try:
        compile_expression(expr)
        # a dry run on an empty Bundle surfaces arity and function errors the parser lets by
        probe = {"resourceType": "Bundle", "type": "message", "entry": []}
        evaluate(
            probe, expr, {name: probe if name == "resource" else "" for name in FHIRPATH_VARIABLES}
        )
    except FhirPathError as exc:
        raise doc.error(where, str(exc)) from None


def display_path(path: Path) -> str:
    """Paths in messages and reports are relative to the suite's root (the repository, or the
    installed wheel's suite folder) when they can be: testcases/x.yaml either way."""
    resolved = path.resolve()
    root = display_root().resolve()
    if resolved.is_relative_to(root):
        return resolved.relative_to(root).as_posix()
    return str(path)


# Connectathon scenarios live beside the protocols (testcases/connectathon/) but are not
# protocols: harness.connectathon.scenario loads them.
SCENARIO_FOLDER = "connectathon"
SCENARIO_MARKER = "kcert-scenario"  # the first key of a scenario file


def discover(root: Path) -> list[Path]:
    """Protocol files below `root` (or `root` itself), in a stable order; a folder named
    `connectathon` below `root` holds scenarios, not protocols, and is skipped."""
    if root.is_file() or (root.exists() and not root.is_dir()):
        return [root]  # a FIFO or device named outright is refused by the loader, not skipped
    return sorted(
        p
        for p in root.rglob("*")
        if is_protocol_file(p) and SCENARIO_FOLDER not in p.relative_to(root).parts[:-1]
    )


def load_all(paths: list[Path]) -> tuple[list[Protocol], list[SourceError]]:
    """Load every protocol; broken files are returned as errors, the rest still load."""
    renderer = TemplateRenderer()
    protocols: list[Protocol] = []
    errors: list[SourceError] = []
    for path in paths:
        try:
            protocols.append(load_protocol(path, renderer, display_path(path)))
        except SourceError as exc:
            errors.append(exc)
    return protocols, errors
