"""Choice elements (`value[x]`): renamed paths and type slices, R4 style."""

from __future__ import annotations

from typing import Any

from harness.validators.fhirprofile.snapshot_tree import Node, SnapshotError


def type_suffix(code: str) -> str:
    """How a type appears in a renamed choice path: dateTime -> DateTime."""
    return code[:1].upper() + code[1:]


def renamed_choice(
    parent: Node, name: str, element_id: str, strict: bool = True
) -> tuple[Node, list[Any]] | None:
    """For a renamed path (`valueQuantity`): the choice element it renames (a child of parent,
    or parent itself when not strict) and the type(s) of it that the name selects."""
    for child in parent.children if strict else [parent]:
        stem = child.name[:-3]
        if not child.name.endswith("[x]") or not name.startswith(stem) or name == stem:
            continue
        wanted = name[len(stem) :]
        types = [
            t for t in child.element.get("type") or [] if type_suffix(str(t.get("code"))) == wanted
        ]
        if not types:
            if not strict:
                return None
            raise SnapshotError(f"{element_id}: {name} names no type that {child.id} allows")
        return child, types
    return None


def close_type_slices(node: Node) -> None:
    """A single-valued choice sliced by type with a required slice can only hold that slice's
    type: the choice is narrowed to it and the slicing closed."""
    if not node.name.endswith("[x]") or not node.slices or node.element.get("max") != "1":
        return
    slicing = node.element.get("slicing") or {}
    if [(d.get("type"), d.get("path")) for d in slicing.get("discriminator") or []] != [
        ("type", "$this")
    ]:
        return
    required = [s for s in node.slices if int(s.element.get("min") or 0) >= 1]
    if len(required) != 1:
        return
    element = node.edit()
    codes = {t.get("code") for t in required[0].element.get("type") or []}
    # the choice keeps its own type entries (a profile on the slice's type stays on the slice)
    element["type"] = [t for t in element.get("type") or [] if t.get("code") in codes]
    element["slicing"] = {**slicing, "rules": "closed"}
