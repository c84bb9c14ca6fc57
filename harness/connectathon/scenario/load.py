"""Load connectathon scenarios (testcases/connectathon/*.yaml); every mistake is a
`ScenarioError` at file:line naming the field.

A scenario names roles (played by a registered system, or simulated by kcert) and steps
from a sender role to a receiver role. What the receiver must do is an action and checks
from the protocol registries, written exactly as a protocol step writes them; the scenario
is cross-checked by the protocol loader itself (templates, persons, step references,
FHIRPath), seen through a view that maps its errors back onto the scenario's own lines
and fields, and becomes one protocol with one case that the one runner runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.connectathon.model import SIMULATED, ScenarioInfo, ScenarioRole
from harness.connectathon.scenario.model import (
    Scenario,
    ScenarioError,
    ScenarioStep,
    UnknownScenario,
)
from harness.connectathon.scenario.schema import MARKER, scenario_schema
from harness.connectathon.scenario.testscripts import testscript_scenarios
from harness.inputfile import InputFileError, read_limited
from harness.loader.protocols import display_path, protocol_from
from harness.model.i18n import Text
from harness.standards.registry import STANDARDS
from harness.suitefiles import PROTOCOLS, suite_folder
from harness.yamlsource import (
    MAX_YAML_BYTES,
    JsonPath,
    SourceError,
    YamlDocument,
    check_schema,
    field_name,
    parse_yaml,
)

__all__ = [
    "Scenario",
    "ScenarioError",
    "ScenarioStep",
    "UnknownScenario",
    "find_scenario",
    "load_scenario",
    "load_scenarios",
    "scenario_infos",
    "scenarios_dir",
]

SCENARIO_FOLDER = "connectathon"
SUFFIXES = (".yaml", ".yml")
TESTSCRIPT_SUFFIXES = (".json", ".xml")
# a TestScript scenario's fixtures map, kept beside its scripts (not a scenario)
FIXTURES_MAP = "fixtures-map.yaml"
MAX_SCENARIO_FILES = 500
STANDARD_LABEL = "Connectathon"  # the built protocol's standard: a label, not a need


def scenarios_dir() -> Path:
    """The suite's scenario folder (testcases/connectathon of the checkout or the wheel)."""
    return suite_folder(PROTOCOLS) / SCENARIO_FOLDER


def scenario_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    if not root.is_dir():
        return []
    found = sorted(
        p
        for p in root.rglob("*")
        if p.suffix in SUFFIXES and p.is_file() and p.name != FIXTURES_MAP
    )
    if len(found) > MAX_SCENARIO_FILES:
        raise ScenarioError(str(root), 1, "", f"more than {MAX_SCENARIO_FILES} scenario files")
    return found


def has_testscripts(root: Path) -> bool:
    """Whether TestScript-looking files (JSON or XML) lie below `root`."""
    if root.is_file():
        return root.suffix in TESTSCRIPT_SUFFIXES
    return root.is_dir() and any(
        p.suffix in TESTSCRIPT_SUFFIXES and p.is_file() for p in root.rglob("*")
    )


def load_scenarios(root: Path | None = None) -> list[Scenario]:
    """Every scenario below `root` (default: the suite's testcases/connectathon), in file
    order, then the TestScripts there that name origin and destination (MedCom's); the
    first broken file raises its `ScenarioError`, as does an id used twice."""
    folder = root or scenarios_dir()
    loaded = [load_scenario(path) for path in scenario_files(folder)]
    if has_testscripts(folder):
        loaded += testscript_scenarios([folder])
    scenarios: list[Scenario] = []
    seen: dict[str, str] = {}
    for scenario in loaded:
        other = seen.get(scenario.scenario_id)
        if other is not None:
            raise ScenarioError(
                scenario.file, 1, "id", f"scenario id {scenario.scenario_id!r} is also {other}'s"
            )
        seen[scenario.scenario_id] = scenario.file
        scenarios.append(scenario)
    return scenarios


def scenario_infos(
    ids: Sequence[str] | None = None, root: Path | None = None
) -> list[ScenarioInfo]:
    """What pairing and the matrix need of the scenarios named by `ids` (None: all), in the
    order asked; an unknown id is `UnknownScenario`."""
    by_id = {s.scenario_id: s for s in load_scenarios(root)}
    if ids is None:
        return [s.info() for s in by_id.values()]
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise UnknownScenario(
            f"unknown scenario {missing[0]!r}; known: {', '.join(sorted(by_id)) or 'none'}"
        )
    return [by_id[i].info() for i in ids]


def find_scenario(scenario_id: str, root: Path | None = None) -> Scenario:
    for scenario in load_scenarios(root):
        if scenario.scenario_id == scenario_id:
            return scenario
    raise UnknownScenario(f"unknown scenario {scenario_id!r}")


def load_scenario(path: Path, display_name: str | None = None) -> Scenario:
    """Read, schema-check and cross-check one scenario file."""
    name = display_name or display_path(path)
    try:
        raw = read_limited(path, MAX_YAML_BYTES)
    except InputFileError as exc:
        raise ScenarioError(name, 1, "", f"cannot read file: {exc.reason}") from None
    try:
        doc = parse_yaml(raw, name)
        if not isinstance(doc.data, dict) or MARKER not in doc.data:
            raise doc.error((), f"not a scenario: it has no '{MARKER}: 1'")
        check_schema(doc, scenario_schema())
        roles = _roles(doc)
        steps = _steps(doc, roles)
        catches = _catches(doc)
        protocol = protocol_from(
            _ProtocolView(doc.file, _as_protocol(doc.data), doc.lines),
            hashlib.sha256(raw).hexdigest(),
            standard_needed=False,
        )
    except ScenarioError:
        raise
    except SourceError as exc:
        raise ScenarioError(exc.file, exc.line, exc.field, exc.message) from None
    data = doc.data
    return Scenario(
        scenario_id=data["id"],
        version=data["version"],
        title=Text.of(data["title"]),
        description=Text.of(data.get("description")),
        roles=roles,
        steps=steps,
        catches=catches,
        file=name,
        sha256=protocol.sha256,
        protocol=protocol,
    )


def _roles(doc: YamlDocument) -> tuple[ScenarioRole, ...]:
    roles: list[ScenarioRole] = []
    for index, raw in enumerate(doc.data["roles"]):
        where: JsonPath = ("roles", index)
        if any(r.name == raw["name"] for r in roles):
            raise doc.error((*where, "name"), f"role {raw['name']!r} is named twice")
        role = ScenarioRole(
            name=raw["name"],
            simulated=raw["simulated"],
            systems_may_play=raw.get("systems_may_play", True),
        )
        if not role.simulated and not role.systems_may_play:
            raise doc.error(
                (*where, "systems_may_play"),
                f"role {role.name!r} is neither simulated nor played by a system: nobody plays it",
            )
        roles.append(role)
    if not any(r.systems_may_play for r in roles):
        raise doc.error(("roles",), "no role may be played by a registered system: nothing to test")
    return tuple(roles)


def _steps(doc: YamlDocument, roles: tuple[ScenarioRole, ...]) -> tuple[ScenarioStep, ...]:
    names = [r.name for r in roles]
    used: set[str] = set()
    steps: list[ScenarioStep] = []
    for index, raw in enumerate(doc.data["steps"]):
        where: JsonPath = ("steps", index)
        for key in ("sender", "receiver"):
            if key in raw and raw[key] not in names:
                raise doc.error(
                    (*where, key), f"unknown role {raw[key]!r}; the roles are {', '.join(names)}"
                )
        if raw.get("sender") == raw["receiver"]:
            raise doc.error((*where, "receiver"), "a step's sender and receiver are two roles")
        used.update(r for r in (raw.get("sender"), raw["receiver"]) if r)
        steps.append(
            ScenarioStep(
                step_id=str(raw["id"]),
                seq=index + 1,
                sender=raw.get("sender", SIMULATED),
                receiver=raw["receiver"],
                title=Text.of(raw["title"]),
                line=doc.line_of(where),
                case_id=str(doc.data["id"]),
            )
        )
    for index, role in enumerate(roles):
        if role.name not in used:
            raise doc.error(("roles", index, "name"), f"role {role.name!r} takes part in no step")
    return tuple(steps)


def _catches(doc: YamlDocument) -> tuple[str, ...]:
    known = STANDARDS.defects()
    catches = doc.data.get("catches", [])
    for index, name in enumerate(catches):
        if name not in known:
            raise doc.error(
                ("catches", index),
                f"unknown reference-LPS defect {name!r}; known: {', '.join(sorted(known))}",
            )
        if catches.index(name) != index:
            raise doc.error(("catches", index), f"defect {name!r} is named twice")
    return tuple(catches)


def _as_protocol(data: dict[str, Any]) -> dict[str, Any]:
    """The scenario in the shape of a protocol with one case (what `protocol_from` reads)."""
    steps = [
        {
            "step": raw["id"],
            "handling": raw["title"],
            "expected": raw.get("expected", raw["title"]),
            "testdata": raw.get("testdata", ""),
            "do": raw["do"],
            "expect": raw.get("expect", []),
        }
        for raw in data["steps"]
    ]
    case: dict[str, Any] = {
        "id": data["id"],
        "title": data["title"],
        "requirements": data["requirements"],
        "severity": data["severity"],
        "reset": data.get("reset", True),
        "steps": steps,
    }
    if "description" in data:
        case["description"] = data["description"]
    if "needs" in data:
        case["needs"] = data["needs"]
    return {
        "id": data["id"],
        "version": data["version"],
        "title": data["title"],
        "standard": STANDARD_LABEL,
        "capability": "connectathon",
        "cases": [case],
    }


def scenario_path(path: JsonPath) -> JsonPath:
    """A path into the protocol shape of a scenario, as the path into the scenario file."""
    if path[:2] != ("cases", 0):
        return ("steps",) if path == ("cases",) else path
    rest = path[2:]
    if rest[:1] == ("steps",) and len(rest) >= 3:
        index, key = rest[1], rest[2]
        renamed = {"step": "id", "handling": "title"}.get(str(key), key)
        return ("steps", index, renamed, *rest[3:])
    return rest


class _ProtocolView(YamlDocument):
    """The scenario's document as the protocol loader sees it: its data in protocol shape,
    its lines and the fields its errors name those of the scenario file."""

    def line_of(self, path: JsonPath) -> int:
        return super().line_of(scenario_path(path))

    def error(self, path: JsonPath, message: str) -> SourceError:
        mapped = scenario_path(path)
        return ScenarioError(self.file, super().line_of(mapped), field_name(mapped), message)
