"""Reading instance data the way a StructureDefinition describes it: choice types, primitive
shapes, fixed and pattern values, and the small FHIRPath subset slicing discriminators use."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from harness.validators.fhirprofile.elements import SYSTEM_STRING

# Every R4 data type that can be the [x] suffix of a choice element.
CHOICE_TYPES = (
    "base64Binary",
    "boolean",
    "canonical",
    "code",
    "date",
    "dateTime",
    "decimal",
    "id",
    "instant",
    "integer",
    "markdown",
    "oid",
    "positiveInt",
    "string",
    "time",
    "unsignedInt",
    "uri",
    "url",
    "uuid",
    "Address",
    "Age",
    "Annotation",
    "Attachment",
    "CodeableConcept",
    "Coding",
    "ContactPoint",
    "Count",
    "Distance",
    "Duration",
    "HumanName",
    "Identifier",
    "Money",
    "Period",
    "Quantity",
    "Range",
    "Ratio",
    "Reference",
    "SampledData",
    "Signature",
    "Timing",
    "ContactDetail",
    "Contributor",
    "DataRequirement",
    "Expression",
    "ParameterDefinition",
    "RelatedArtifact",
    "TriggerDefinition",
    "UsageContext",
    "Dosage",
    "Meta",
)
SUFFIX_TO_TYPE = {t[0].upper() + t[1:]: t for t in CHOICE_TYPES}

_STRING_TYPES = frozenset(
    {
        "string",
        "code",
        "id",
        "uri",
        "url",
        "canonical",
        "oid",
        "uuid",
        "markdown",
        "base64Binary",
        "date",
        "dateTime",
        "instant",
        "time",
        "xhtml",
        SYSTEM_STRING,
    }
)
_INTEGER_TYPES = frozenset({"integer", "unsignedInt", "positiveInt"})
PRIMITIVES = _STRING_TYPES | _INTEGER_TYPES | {"boolean", "decimal"}

# Lexical forms from the R4 datatypes page, for the primitives whose JSON form is a string.
_LEXICAL = {
    "date": re.compile(r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"),
    "dateTime": re.compile(
        r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01])(T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
        r"(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))?)?)?$"
    ),
    "instant": re.compile(
        r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
        r"(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))$"
    ),
    "time": re.compile(r"^([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?$"),
    "id": re.compile(r"^[A-Za-z0-9\-.]{1,64}$"),
    "code": re.compile(r"^[^\s]+( [^\s]+)*$"),
    "oid": re.compile(r"^urn:oid:[0-2](\.(0|[1-9]\d*))+$"),
    "uuid": re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
}


def choice_type(name: str, key: str) -> str | None:
    """The data type a JSON key like `valueCoding` names for choice element `value[x]`."""
    if not key.startswith(name) or len(key) == len(name):
        return None
    return SUFFIX_TO_TYPE.get(key[len(name) :])


def shape_problem(type_code: str, value: Any) -> str | None:
    """Why a JSON value cannot be of the FHIR type, or None when it can."""
    if type_code == "boolean":
        return None if isinstance(value, bool) else "a JSON boolean"
    if type_code in _INTEGER_TYPES:
        if not isinstance(value, int) or isinstance(value, bool):
            return "a JSON integer"
        if (type_code == "positiveInt" and value < 1) or (type_code == "unsignedInt" and value < 0):
            return f"a {type_code}"
        return None
    if type_code == "decimal":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok else "a JSON number"
    if type_code in _STRING_TYPES:
        if not isinstance(value, str):
            return "a JSON string"
        pattern = _LEXICAL.get(type_code)
        if pattern is not None and not pattern.match(value):
            return f"a valid {type_code}"
        return None
    if type_code == "Resource" or type_code[:1].isupper():
        return None if isinstance(value, dict) else "a JSON object"
    return None  # a type this validator does not know the shape of


def deep_equal(value: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return (
            isinstance(value, dict)
            and value.keys() == expected.keys()
            and all(deep_equal(value[k], v) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(value, list)
            and len(value) == len(expected)
            and all(deep_equal(a, b) for a, b in zip(value, expected, strict=True))
        )
    return type(value) is type(expected) and bool(value == expected)


def matches_pattern(value: Any, pattern: Any) -> bool:
    """FHIR pattern[x]: every property the pattern has, the value has too (lists: each pattern
    item is matched by some value item); primitives are equal."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and matches_pattern(value[k], v) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        items = value if isinstance(value, list) else [value]
        return all(any(matches_pattern(i, p) for i in items) for p in pattern)
    return type(value) is type(pattern) and bool(value == pattern)


def children_named(item: Any, name: str) -> list[Any]:
    """Values of `name` in an object, choice-aware (`value` finds valueCoding), flattened."""
    if not isinstance(item, dict):
        return []
    if name in item:
        found = item[name]
    else:
        found = next((v for k, v in item.items() if choice_type(name, k)), None)
    if found is None:
        return []
    return list(found) if isinstance(found, list) else [found]


def split_path(path: str) -> list[str]:
    """Split a discriminator path on dots that are not inside parentheses or quotes."""
    return list(_split_path(path))


@lru_cache(maxsize=1024)  # a handful of discriminator paths, split for every slice match
def _split_path(path: str) -> tuple[str, ...]:
    steps, depth, quoted, current = [], 0, False, ""
    for char in path:
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        if char == "." and depth == 0 and not quoted:
            steps.append(current)
            current = ""
        else:
            current += char
    steps.append(current)
    return tuple(s for s in steps if s and s != "$this")


_EXTENSION_STEP = re.compile(r"^extension\('([^']*)'\)$")


def extension_url(step: str) -> str | None:
    match = _EXTENSION_STEP.match(step)
    return match.group(1) if match else None
