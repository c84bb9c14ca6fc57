"""Test data under fixtures/: synthetic persons, peer organisations and message templates."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from harness.safeparse import PayloadError, parse_json
from harness.suitefiles import FIXTURES, guess_folder, suite_root
from harness.synthetic import synthetic_cpr_problem
from harness.yamlsource import SourceError, check_schema, load_yaml

# The folder holding testcases/ and fixtures/, found by harness.suitefiles: the checkout, or an
# installed wheel's copy (so REPO_ROOT / "testcases" is right either way). Not where reports
# go: that is suitefiles.reports_dir().
REPO_ROOT = suite_root()
FIXTURES_DIR = guess_folder(FIXTURES)
# The pre-recorded tester answers for the reference LPS's attended steps.
REFERENCE_ANSWERS = FIXTURES_DIR / "answers" / "reference-lps.yaml"
MAX_CACHED_TEMPLATES = 500  # distinct template texts whose variables one renderer keeps

_PERSONS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["persons"],
    "additionalProperties": False,
    "properties": {
        "persons": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "cpr", "given", "family", "gender", "birthDate"],
                "properties": {
                    "key": {"type": "string"},
                    "cpr": {"type": "string"},
                    "given": {"type": "string"},
                    "family": {"type": "string"},
                    "gender": {"enum": ["male", "female"]},
                    "birthDate": {"type": "string", "format": "date"},
                },
            },
        }
    },
}

_PEERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["peers"],
    "properties": {
        "peers": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["name", "sor", "gln"],
                "properties": {
                    "sor": {"type": "string", "pattern": "^[0-9]{6,18}$"},
                    "gln": {"type": "string", "pattern": "^[0-9]{13}$"},
                },
            },
        }
    },
}


class TemplateError(ValueError):
    """A message template is missing or renders to something that is not JSON."""


def load_persons(path: Path | None = None) -> dict[str, dict[str, str]]:
    """Synthetic persons by key; any CPR outside kcert's test range is refused."""
    doc = load_yaml(path or FIXTURES_DIR / "persons.yaml")
    check_schema(doc, _PERSONS_SCHEMA)
    persons: dict[str, dict[str, str]] = {}
    for index, person in enumerate(doc.data["persons"]):
        problem = synthetic_cpr_problem(person["cpr"])
        if problem:
            raise doc.error(("persons", index, "cpr"), problem)
        persons[person["key"]] = dict(person)
    return persons


def load_peers(path: Path | None = None) -> dict[str, dict[str, Any]]:
    doc = load_yaml(path or FIXTURES_DIR / "peers.yaml")
    check_schema(doc, _PEERS_SCHEMA)
    return {k: dict(v) for k, v in doc.data["peers"].items()}


class IdBag:
    """Fresh UUIDs on first use of a name, stable within one rendering: per-run unique ids.

    With a seeded generator the ids are reproducible, so a recorded run can be replayed
    byte for byte (resume and re-judging rely on it).
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self.generated: dict[str, str] = {}
        self.rng = rng

    def __getitem__(self, name: str) -> str:
        if name not in self.generated:
            if self.rng is None:
                value = uuid.uuid4()
            else:
                value = uuid.UUID(int=self.rng.getrandbits(128), version=4)
            self.generated[name] = str(value)
        return self.generated[name]


@dataclass
class Rendered:
    resource: dict[str, Any]
    ids: dict[str, str] = field(default_factory=dict)


def _is_vars(node: Any) -> bool:
    from jinja2 import nodes

    return isinstance(node, nodes.Name) and node.name == "vars"


class TemplateRenderer:
    """Renders JSON message templates with jinja2 (strict: an unknown variable is an error)."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or FIXTURES_DIR
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(self.root)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # JSON output; strings go through |tojson
            keep_trailing_newline=True,
        )
        self._rng: random.Random | None = None
        self._now: dt.datetime | None = None
        # a template's source -> the vars it reads: protocols share templates, and parsing
        # one costs more than reading it (keyed by the text, so an edited file is parsed anew)
        self._variables: dict[str, frozenset[str]] = {}

    def reseed(self, seed: str, now: dt.datetime) -> None:
        """Make the following renderings reproducible: ids from `seed`, times from `now`."""
        self._rng = random.Random(seed)
        self._now = now.replace(microsecond=0)

    def new_id(self) -> str:
        """A fresh UUID outside a template, from the same seeded generator: reproducible in a
        replay like the rendered ones (a TestScript's ids for what it places or asks for)."""
        return IdBag(self._rng)["id"]

    def exists(self, name: str) -> bool:
        return (self.root / name).is_file()

    def variables(self, name: str) -> set[str]:
        """The `vars.X` names a template reads, so protocols can be checked at collection."""
        from jinja2 import nodes

        source = (self.root / name).read_text(encoding="utf-8")
        known = self._variables.get(source)
        if known is not None:
            return set(known)
        tree = self.env.parse(source)
        found: set[str] = set()
        for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
            if isinstance(node, nodes.Getattr) and _is_vars(node.node):
                found.add(node.attr)
            elif (
                isinstance(node, nodes.Getitem)
                and _is_vars(node.node)
                and isinstance(node.arg, nodes.Const)
            ):
                found.add(str(node.arg.value))
        if len(self._variables) < MAX_CACHED_TEMPLATES:
            self._variables[source] = frozenset(found)
        return found

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        ids = IdBag(self._rng)
        now = self._now or dt.datetime.now(dt.UTC).replace(microsecond=0)
        full = {
            "ids": ids,
            "now": now.isoformat(),
            "earlier": (now - dt.timedelta(days=2)).isoformat(),
            "vars": {},
            **context,
        }
        try:
            text = self.env.get_template(name).render(full)
        except jinja2.TemplateNotFound:
            raise TemplateError(f"template {name} not found under {self.root}") from None
        except jinja2.TemplateError as exc:
            raise TemplateError(f"template {name}: {exc}") from None
        try:
            value = parse_json(text)
        except PayloadError as exc:
            raise TemplateError(f"template {name} does not render to JSON: {exc}") from None
        if not isinstance(value, dict):
            raise TemplateError(f"template {name} must render to a JSON object")
        return Rendered(value, dict(ids.generated))


__all__ = [
    "FIXTURES_DIR",
    "REFERENCE_ANSWERS",
    "IdBag",
    "Rendered",
    "SourceError",
    "TemplateError",
    "TemplateRenderer",
    "load_peers",
    "load_persons",
]
