"""An OperationDefinition's inputProfile and outputProfile (Parameters profiles) must say about
each parameter what the OperationDefinition says: cardinality, types and target profiles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.validators.fhirprofile.elements import ElementNode

# canonical -> the root element of that Parameters profile, or None when not in the context
FindRoot = Callable[[str], ElementNode | None]


@dataclass(frozen=True)
class OperationIssue:
    path: str
    message: str
    error: bool = True


def operation_issues(opdef: dict[str, Any], find: FindRoot) -> Iterator[OperationIssue]:
    parameters = opdef.get("parameter")
    listed = parameters if isinstance(parameters, list) else []
    for key, use in (("inputProfile", "in"), ("outputProfile", "out")):
        url = opdef.get(key)
        if not isinstance(url, str):
            continue
        root = find(url)
        if root is None:
            continue  # the profile check of canonicals reports what is not in the context
        slices = _parameter_slices(root)
        for number, parameter in enumerate(listed):
            if not isinstance(parameter, dict) or parameter.get("use") != use:
                continue
            name = parameter.get("name")
            where = f"OperationDefinition.{key}.parameter[{number}]"
            node = slices.get(str(name))
            if node is None:
                yield OperationIssue(
                    where,
                    f"the {use!r} profile {url} has no parameter {name!r}, which the operation "
                    "lists",
                    error=False,
                )
                continue
            yield from _compare(parameter, node, str(name), use, where)


def _parameter_slices(root: ElementNode) -> dict[str, ElementNode]:
    """The slices of Parameters.parameter by the name each fixes."""
    found: dict[str, ElementNode] = {}
    parameter = root.children.get("parameter")
    for node in parameter.slices if parameter is not None else []:
        name = node.children.get("name")
        value = (name.fixed or name.pattern) if name is not None else None
        if value is not None and isinstance(value[1], str):
            found[value[1]] = node
    return found


def _compare(
    parameter: dict[str, Any], node: ElementNode, name: str, use: str, where: str
) -> Iterator[OperationIssue]:
    said_min = parameter.get("min")
    if isinstance(said_min, int) and said_min != node.min:
        yield OperationIssue(
            where,
            f"parameter {name!r}: min is {node.min} in the {use!r} profile, {said_min} in the "
            "operation definition",
        )
    said_max = parameter.get("max")
    profile_max = "*" if node.max is None else str(node.max)
    if isinstance(said_max, str) and said_max != profile_max:
        yield OperationIssue(
            where,
            f"parameter {name!r}: max is {profile_max} in the {use!r} profile, {said_max} in the "
            "operation definition",
        )
    types, targets = _profile_types(node)
    said_type = parameter.get("type")
    if isinstance(said_type, str) and types:
        if said_type not in types and not (said_type == "Resource" and types):
            yield OperationIssue(
                where,
                f"parameter {name!r}: the operation definition allows {said_type}, the "
                f"{use!r} profile only {', '.join(sorted(types))}",
            )
        for extra in sorted(types - {said_type}):
            if said_type != "Resource":
                yield OperationIssue(
                    where,
                    f"parameter {name!r}: the {use!r} profile allows {extra}, the operation "
                    f"definition does not",
                )
    said_targets = {str(t) for t in parameter.get("targetProfile") or []}
    for missing in sorted(said_targets - targets):
        yield OperationIssue(
            where,
            f"parameter {name!r}: target profile {missing} is in the operation definition, not "
            f"in the {use!r} profile",
        )
    for extra in sorted(targets - said_targets):
        yield OperationIssue(
            where,
            f"parameter {name!r}: target profile {extra} is in the {use!r} profile, not in the "
            "operation definition",
        )


def _profile_types(node: ElementNode) -> tuple[set[str], set[str]]:
    """The types a parameter slice allows (value[x] or resource, whichever is not 0..0) and
    the profiles it names for them."""
    types: set[str] = set()
    targets: set[str] = set()
    for child_name in ("value[x]", "resource"):
        child = node.children.get(child_name)
        if child is None or child.max == 0:
            continue
        codes = {t.code for t in child.types}
        if len(codes) > 5 or (codes == {"Resource"} and not any(t.profiles for t in child.types)):
            continue  # the base's own choice: the profile says nothing about the type here
        for type_ref in child.types:
            types.add(type_ref.code)
            targets.update(type_ref.target_profiles)
            if child_name == "resource":
                targets.update(type_ref.profiles)
    return types, targets
