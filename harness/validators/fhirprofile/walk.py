"""The small part of FHIRPath navigation the contextual natives need, read the way fhirpathpy
reads it. Wherever fhirpathpy's reading of the JSON could differ from the plain one (primitive
extensions, nulls, empty objects, odd types), the helpers raise Defer and FHIRPath decides."""

from __future__ import annotations

import re
from typing import Any, Protocol

from fhirpathpy.models import models

Json = dict[str, Any]
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]*$")
# The type suffixes fhirpathpy's R4 model allows for the choice elements natives navigate.
_CHOICE_TYPES: dict[str, frozenset[str]] = {
    "value": frozenset(models["r4"]["choiceTypePaths"]["Extension.value"]),
}


class Defer(Exception):
    """This native does not answer for this input; fhirpathpy will."""


class Context(Protocol):
    """What a contextual native may consult besides the node it is applied to."""

    @property
    def resource(self) -> Any:
        """%resource"""

    def resolve(self, values: list[Any]) -> list[Json]:
        """resolve() of References or reference strings, as the invariants module answers it;
        raises Defer where that answer would be 'not evaluable'."""


def _item(value: Any) -> Any:
    # fhirpathpy keeps nulls, empty objects and empty strings as nodes of their own; rare and
    # invalid anyway, so FHIRPath decides
    if value is None or value == "" or value == {}:
        raise Defer
    return value


def child(parent: Any, name: str) -> list[Any]:
    """`parent.name` for one JSON object: the values of `name`, a list flattened."""
    if not isinstance(parent, dict):
        raise Defer  # a primitive or list in mid-path: not a shape these invariants expect
    if "_" + name in parent:
        raise Defer  # a primitive with extensions is a node of its own in fhirpathpy
    value = parent.get(name)
    if value is None:
        if name in parent:
            raise Defer
        return []
    if isinstance(value, list):
        return [_item(v) for v in value]
    return [_item(value)]


def children(parents: list[Any], name: str) -> list[Any]:
    return [c for p in parents for c in child(p, name)]


def objects(parents: list[Any], name: str) -> list[Json]:
    """Like children(), for elements that must be JSON objects (complex types)."""
    found = children(parents, name)
    if not all(isinstance(f, dict) for f in found):
        raise Defer
    return found


def strings(parents: list[Any], name: str) -> list[str]:
    """Like children(), for primitive elements that must be JSON strings."""
    found = children(parents, name)
    if not all(isinstance(f, str) for f in found):
        raise Defer
    return found


def resource_type(resource: Json) -> str:
    """The FHIR type fhirpathpy gives a resource ("" for an object without resourceType)."""
    rtype = resource.get("resourceType")
    if rtype is None:
        if "resourceType" in resource:
            raise Defer
        return ""
    if not isinstance(rtype, str) or not _RESOURCE_TYPE.match(rtype):
        raise Defer  # fhirpathpy would look the odd name up in its model
    return rtype


def of_type(resources: list[Json], rtype: str) -> list[Json]:
    """ofType(X) for a concrete resource type X that no other type derives from."""
    return [r for r in resources if resource_type(r) == rtype]


def entry_resources(bundle: Any) -> list[Json]:
    """`entry.resource` of a Bundle (an entry with several resources is not a Bundle these
    invariants were written for)."""
    found = []
    for entry in objects([bundle], "entry"):
        resources = objects([entry], "resource")
        if len(resources) > 1:
            raise Defer
        found += resources
    return found


def rooted(item: Any, rtype: str) -> Json:
    """The node for an expression that starts with its type name (`Bundle.entry...`)."""
    if not isinstance(item, dict) or resource_type(item) != rtype:
        raise Defer
    return item


def choice_values(parents: list[Any], name: str) -> list[Any]:
    """`extension.value`: whichever valueXxx each Extension carries."""
    found = []
    for parent in parents:
        if not isinstance(parent, dict):
            raise Defer
        if any(k.startswith("_" + name) for k in parent):
            raise Defer
        keys = [k for k in parent if k.startswith(name)]
        if not keys:
            continue
        if len(keys) > 1 or keys[0][len(name) :] not in _CHOICE_TYPES.get(name, ()):
            raise Defer  # fhirpathpy picks by its model's order, or ignores unknown types
        found += child(parent, keys[0])
    return found


def singleton_string(values: list[Any]) -> str | None:
    """The one string a string function works on; None for an empty input (the function then
    answers empty); Defer where fhirpathpy raises (several items, not a string)."""
    if not values:
        return None
    if len(values) > 1 or not isinstance(values[0], str):
        raise Defer
    return values[0]


def equal(left: list[Any], right: list[Any]) -> bool | None:
    """fhirpathpy's `=`: empty (None) when either side is empty; false when the sizes differ;
    else the first items' data compared (it looks no further)."""
    if not left or not right:
        return None
    return len(left) == len(right) and bool(left[0] == right[0])


def equal_first(left: list[Any], right: list[Any]) -> bool:
    """Whether fhirpathpy's `=` is true (rather than false or empty)."""
    return equal(left, right) is True
