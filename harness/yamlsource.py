"""YAML with line numbers, checked against a JSON Schema: errors name file:line and field."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import jsonschema
import yaml

from harness.inputfile import InputFileError, read_limited

JsonPath = tuple[str | int, ...]

_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_YAML_BYTES = 2 * 1024 * 1024
# libyaml when present: the same safe loader, ten times faster
_BASE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _InputLoader(_BASE_LOADER):  # type: ignore[misc]
    """The safe loader with dates left as the text written.

    An unquoted date would otherwise become a date object (a schema saying "string" then
    rejects it confusingly) and an impossible one (2027-02-30) a bare ValueError with no line.
    Every reader checks its dates itself, at the line of the field.
    """

    yaml_implicit_resolvers: ClassVar[dict[Any, list[tuple[str, Any]]]] = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _BASE_LOADER.yaml_implicit_resolvers.items()
    }

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # An explicit tag (!!timestamp 2027-02-30, !!int 0x) whose text does not fit raises a
        # plain ValueError/TypeError inside PyYAML: give it the node's mark.
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} cannot be read as {node.tag}: {exc}", node.start_mark
            ) from None


SAFE_LOADER: Any = _InputLoader


class SourceError(ValueError):
    """A YAML input file is broken; the message names file:line and the field at fault."""

    def __init__(self, file: str, line: int, field: str, message: str) -> None:
        where = f"{file}:{line}"
        text = f"{where}: {field}: {message}" if field else f"{where}: {message}"
        super().__init__(text)
        self.file = file
        self.line = line
        self.field = field
        self.message = message


@dataclass
class YamlDocument:
    """Plain data plus the line of every mapping key and sequence item."""

    file: str
    data: Any
    lines: dict[JsonPath, int]

    def line_of(self, path: JsonPath) -> int:
        """Line of the nearest known ancestor of `path` (1-based)."""
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), 1)

    def error(self, path: JsonPath, message: str) -> SourceError:
        return SourceError(self.file, self.line_of(path), field_name(path), message)


def field_name(path: JsonPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _walk(
    node: yaml.Node, path: JsonPath, lines: dict[JsonPath, int], file: str, seen: set[int]
) -> None:
    if id(node) in seen:
        # Aliases (&anchor / *ref) would let a small file expand without bound: refused.
        raise SourceError(
            file, node.start_mark.line + 1, field_name(path), "YAML aliases are not allowed"
        )
    seen.add(id(node))
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in keys:
                raise SourceError(
                    file, key_node.start_mark.line + 1, field_name((*path, key)), "duplicate key"
                )
            keys.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, file, seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[(*path, index)] = item.start_mark.line + 1
            _walk(item, (*path, index), lines, file, seen)


def load_yaml(path: Path, display_name: str | None = None) -> YamlDocument:
    """Load one YAML document safely (SafeLoader, size cap, no duplicate keys)."""
    name = display_name or str(path)
    try:
        raw = read_limited(path, MAX_YAML_BYTES)
    except InputFileError as exc:
        raise SourceError(name, 1, "", f"cannot read file: {exc.reason}") from None
    return parse_yaml(raw, name)


def parse_yaml(raw: bytes, name: str) -> YamlDocument:
    if len(raw) > MAX_YAML_BYTES:
        raise SourceError(name, 1, "", f"file larger than {MAX_YAML_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(name, 1, "", f"not UTF-8: {exc.reason}") from None
    lines: dict[JsonPath, int] = {}
    try:
        node = yaml.compose(text, Loader=SAFE_LOADER)
        if node is None:
            raise SourceError(name, 1, "", "file is empty")
        _walk(node, (), lines, name, set())
        data = yaml.load(text, Loader=SAFE_LOADER)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SourceError(name, line, _field_at(lines, line), str(exc.problem)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise SourceError(name, line, "", f"YAML syntax: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise SourceError(name, 1, "", f"YAML syntax: {exc}") from None
    return YamlDocument(name, data, lines)


_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date", raises=ValueError)
def _is_date(value: object) -> bool:
    # Dates stay text (see _InputLoader); a schema's "format": "date" is where they are checked.
    if not isinstance(value, str):
        return True
    if not _DATE_TEXT.fullmatch(value):
        raise ValueError("not YYYY-MM-DD")
    dt.date.fromisoformat(value)
    return True


def _field_at(lines: dict[JsonPath, int], line: int) -> str:
    """The deepest field that starts on `line`, for an error found only by its mark."""
    here = [path for path, at in lines.items() if at == line]
    return field_name(max(here, key=len)) if here else ""


def _best_errors(errors: Iterator[jsonschema.ValidationError]) -> list[jsonschema.ValidationError]:
    found = sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.message))
    return found


def check_schema(doc: YamlDocument, schema: dict[str, Any], at: JsonPath = ()) -> None:
    """Raise the first schema violation as a SourceError at its line."""
    target: Any = doc.data
    for part in at:
        target = target[part]
    validator = jsonschema.Draft202012Validator(schema, format_checker=_FORMATS)
    errors = _best_errors(validator.iter_errors(target))
    if not errors:
        return
    # A misspelt key is the likeliest mistake: name it rather than what its absence causes.
    typos = [e for e in errors if e.validator in ("additionalProperties", "propertyNames")]
    err = typos[0] if typos else (jsonschema.exceptions.best_match(errors) or errors[0])
    while err.context:  # descend into oneOf/anyOf to the most specific message
        err = sorted(err.context, key=lambda e: -len(e.absolute_path))[0]
    path = (*at, *err.absolute_path)
    raise doc.error(path, _message(err))


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        return f"unknown field ({err.message})"
    if err.validator == "required":
        return f"missing required field: {err.message}"
    if err.validator == "format" and err.validator_value == "date":
        return f"{err.instance!r} is not a calendar date (YYYY-MM-DD)"
    return err.message
