"""Generate a StructureDefinition snapshot from its differential and its base's snapshot.

The rules are FHIR R4's (profiling.html, elementdefinition.html, structuredefinition.html):
every differential element constrains the base element with the same id; new slices are
copies of the element they slice, placed after it, its children and the slices before them;
constraining below an element whose children the base does not list expands that element's
type (its datatype, or the profile it names). What cannot be expanded faithfully raises
SnapshotError naming the element, never a snapshot that is silently wrong.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from harness.validators.fhirprofile.snapshot_choice import close_type_slices, renamed_choice
from harness.validators.fhirprofile.snapshot_merge import merge_element
from harness.validators.fhirprofile.snapshot_tree import (
    Element,
    Node,
    SnapshotError,
    build_tree,
    clone,
    derive_ids,
    split_id,
)

__all__ = ["SnapshotError", "generate_snapshot"]

Resolve = Callable[[str], dict[str, Any] | None]
CORE = "http://hl7.org/fhir/StructureDefinition/"
# A snapshot whose bases are themselves being generated through `resolve` nests calls; past
# this depth the chain of baseDefinitions is taken to be a loop.
MAX_NESTING = 32
# Deeper paths than this are not written by any real profile; refuse rather than recurse.
MAX_PATH_SEGMENTS = 64
EXTENSION_SLICING = {
    "discriminator": [{"type": "value", "path": "url"}],
    "description": "Extensions are always sliced by (at least) url",
    "rules": "open",
}
TYPE_SLICING = {
    "discriminator": [{"type": "type", "path": "$this"}],
    "ordered": False,
    "rules": "open",
}

_in_progress = threading.local()


def generate_snapshot(sd: dict[str, Any], resolve: Resolve) -> list[dict[str, Any]]:
    """The snapshot elements of `sd` (which has a differential), built on its base's snapshot;
    `resolve(canonical)` gives the base and any type/extension profile, each with a snapshot."""
    url = str(sd.get("url") or "")
    active: list[str] = _in_progress.__dict__.setdefault("urls", [])
    if url and url in active:
        raise SnapshotError(f"{url}: baseDefinition loop ({' -> '.join([*active, url])})")
    if len(active) >= MAX_NESTING:
        raise SnapshotError(f"{url}: more than {MAX_NESTING} nested profiles")
    active.append(url)
    try:
        return _Generator(sd, resolve).run()
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        if isinstance(exc, SnapshotError):
            raise
        # a shape no StructureDefinition should have (a number where a list belongs, ...)
        raise SnapshotError(
            f"{url or '?'}: malformed definition ({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        active.pop()


class _Generator:
    """One snapshot generation: the working tree and what was resolved for it."""

    def __init__(self, sd: dict[str, Any], resolve: Resolve) -> None:
        self.sd = sd
        self.url = str(sd.get("url") or sd.get("id") or "?")
        self._resolve = resolve
        self._fetched: dict[str, dict[str, Any] | None] = {}

    def run(self) -> list[dict[str, Any]]:
        sd = self.sd
        if sd.get("derivation") == "specialization" or sd.get("kind") == "logical":
            raise SnapshotError(
                f"{self.url}: a specialization (new type or logical model) defines elements of "
                "its own; only constraint profiles are expanded"
            )
        base_url = sd.get("baseDefinition")
        if not isinstance(base_url, str) or not base_url:
            raise SnapshotError(f"{self.url}: no baseDefinition to build the snapshot on")
        if base_url.partition("|")[0] == self.url:
            raise SnapshotError(f"{self.url}: the profile is its own baseDefinition")
        base = self.fetch(base_url, self.url)
        if sd.get("type") and base.get("type") and sd["type"] != base["type"]:
            raise SnapshotError(
                f"{self.url}: constrains type {sd['type']} but its base is a {base['type']}"
            )
        differential = (sd.get("differential") or {}).get("element") or []
        if not isinstance(differential, list) or not all(isinstance(e, dict) for e in differential):
            raise SnapshotError(f"{self.url}: differential.element is not a list of elements")
        self.base_elements: list[Element] = base["snapshot"]["element"]
        self.root = build_tree(self.base_elements)
        for diff, element_id in zip(differential, derive_ids(differential), strict=True):
            self.apply(element_id, diff)
        for node in list(self.root.walk()):
            close_type_slices(node)
        out = [{**n.element, "id": n.id, "path": n.path} for n in self.root.walk()]
        # one copy at the end: nothing returned shares a list or object with the inputs
        copied: list[dict[str, Any]] = json.loads(json.dumps(out))
        return copied

    def apply(self, element_id: str, diff: Element) -> None:
        """Merge one differential element into the element it constrains."""
        node = self.locate(element_id)
        before = _profiles(node.element)
        merge_element(node.edit(), diff, element_id)
        node.applied.append(diff)
        if node.children and _profiles(node.element) != before and _profiles(node.element):
            self.rebase(node, element_id)

    def rebase(self, node: Node, element_id: str) -> None:
        """Children listed for one type, when the profile names another type profile: list the
        profile's children instead and apply again what this profile said about them."""
        old = [n for child in node.children for n in child.walk()]
        node.children = []
        self.expand(node, element_id)
        for item in old:
            for diff in item.applied:
                self.apply(item.id, diff)

    # -- finding and creating the element a differential entry constrains ----------------------

    def locate(self, element_id: str) -> Node:
        """The element an id names, expanding types and creating the last slice as needed."""
        segments = split_id(element_id)
        if len(segments) > MAX_PATH_SEGMENTS:
            raise SnapshotError(f"{element_id}: path deeper than {MAX_PATH_SEGMENTS} elements")
        (root_name, root_slice), rest = segments[0], segments[1:]
        if root_name != self.root.name or root_slice is not None:
            raise SnapshotError(f"{element_id}: not an element of {self.root.path}")
        node = self.root
        in_new_slice = False
        for position, (name, slice_name) in enumerate(rest, 1):
            node = self.child_of(node, name, element_id, in_new_slice)
            if slice_name is not None:
                node = self.slice_of(node, slice_name, element_id, position == len(rest))
            in_new_slice = in_new_slice or node.from_diff
        return node

    def child_of(self, node: Node, name: str, element_id: str, in_new_slice: bool) -> Node:
        if not node.children:
            self.expand(node, element_id)
        found = node.child(name)
        renamed = None if found else renamed_choice(node, name, element_id)
        if renamed is not None:
            found = self.renamed(*renamed, name, element_id, in_new_slice)
        if found is None:
            known = ", ".join(c.name for c in node.children)
            raise SnapshotError(
                f"{element_id}: {node.path} has no element {name!r} (it has {known})"
            )
        return found

    def renamed(
        self, choice: Node, types: list[Any], name: str, element_id: str, in_new_slice: bool
    ) -> Node:
        """R4's renamed choice path (`valueQuantity`) restricts the choice to that type: as a
        closed type slicing with the one slice, or, inside a slice this profile introduces, by
        narrowing the element itself (what the R4 generator wrote for bp's components)."""
        for item in choice.slices:
            if item.slice_name == name:
                return item
        element = choice.edit()
        element["type"] = types
        if in_new_slice:
            return choice
        element["slicing"] = {**TYPE_SLICING, "rules": "closed"}
        made = self.new_slice(choice, name, element_id)
        made.edit()["type"] = types
        return made

    def slice_of(self, node: Node, slice_name: str, element_id: str, may_create: bool) -> Node:
        """The slice (or re-slice `a/b`) of node, created when the differential introduces it."""
        parts = slice_name.split("/")
        current = node
        for depth, part in enumerate(parts):
            full = "/".join(parts[: depth + 1])
            found = next(
                (s for s in current.slices if s.slice_name in (full, part if depth else full)),
                None,
            )
            if found is not None:
                current = found
                continue
            if not (may_create and depth == len(parts) - 1):
                raise SnapshotError(
                    f"{element_id}: slice {full!r} of {current.id} is used before it is defined"
                )
            current = self.new_slice(current, full, element_id)
        return current

    def new_slice(self, sliced: Node, full_name: str, element_id: str) -> Node:
        if "slicing" not in sliced.element:
            sliced.edit()["slicing"] = _default_slicing(sliced, element_id)
        prefix, _, last = sliced.id.rpartition(".")
        new_id = (prefix + "." if prefix else "") + last.partition(":")[0] + ":" + full_name
        # A slice is the sliced element as the base had it (what this profile says about the
        # element itself is not about each slice), with the children as this profile has
        # constrained them so far; a re-slice starts from the slice it divides.
        made = clone(sliced, new_id, pristine=False)
        made.slices = []  # the re-slices of the element it copies are its siblings, not its own
        made.applied = []
        if sliced.slice_name is None:
            made.element, made.owned = sliced.origin, False
        element = made.edit()
        element.pop("slicing", None)
        element["sliceName"] = full_name
        if sliced.name.endswith("[x]") and "/" not in full_name:
            # a type slice named valueQuantity holds Quantity values, typed or not (R4)
            named = renamed_choice(sliced, full_name, element_id, strict=False)
            if named is not None:
                element["type"] = named[1]
        made.from_diff = True
        sliced.slices.append(made)
        return made

    # -- expanding an element into its type ----------------------------------------------------

    def expand(self, node: Node, element_id: str) -> None:
        """List node's children: from the element its contentReference names, or from the
        snapshot of its one type (the profile on it, or the datatype)."""
        reference = node.element.get("contentReference")
        if isinstance(reference, str):
            self._expand_reference(node, reference, element_id)
        else:
            self._expand_type(node, element_id)
        if not node.children:
            raise SnapshotError(f"{element_id}: {node.id} has no child elements to constrain")
        node.expanded = True

    def _expand_type(self, node: Node, element_id: str) -> None:
        types = node.element.get("type") or []
        if not types:
            raise SnapshotError(f"{element_id}: cannot list the children of {node.id}: no type")
        if len(types) > 1:
            # every type of a choice is an Element: what they share (id, extension) can be
            # constrained without choosing one
            url = CORE + "Element"
        else:
            code = str(types[0].get("code") or "")
            profiles = types[0].get("profile") or []
            if len(profiles) > 1:
                raise SnapshotError(
                    f"{element_id}: cannot list the children of {node.id}: its type names "
                    f"{len(profiles)} profiles"
                )
            url = str(profiles[0]) if profiles else (code if "/" in code else CORE + code)
        source = self.fetch(url, element_id)
        elements = source["snapshot"]["element"]
        part = _profile_element(types[0]) if len(types) == 1 else None
        if part is not None:
            # the type names one element of the profile (the profile-element extension): its
            # children are what this element holds
            elements = [
                e
                for e in elements
                if str(e.get("id", "")) == part or str(e.get("id", "")).startswith(part + ".")
            ]
            if not elements:
                raise SnapshotError(f"{element_id}: {url} has no element {part}")
        tree = build_tree(elements, id_root=node.id, path_root=node.path)
        node.children = tree.children

    def _expand_reference(self, node: Node, reference: str, element_id: str) -> None:
        target_path = reference.partition("#")[2]
        target = self.root
        names = target_path.split(".")
        if names[0] != target.name:
            raise SnapshotError(f"{element_id}: contentReference {reference} is outside the type")
        for name in names[1:]:
            found = target.child(name)
            if found is None:
                raise SnapshotError(f"{element_id}: contentReference {reference} not found")
            target = found
        if target.expanded or not target.children:
            raise SnapshotError(f"{element_id}: contentReference {reference} lists no children")
        node.children = [
            clone(
                child,
                node.id + child.id[len(target.id) :],
                True,
                node.path + child.path[len(target.path) :],
            )
            for child in target.children
        ]
        # the element now carries its own children, so it is typed like the one it names
        element = node.edit()
        del element["contentReference"]
        element["type"] = target.origin.get("type", [{"code": "BackboneElement"}])

    def _lookup(self, canonical: str) -> dict[str, Any] | None:
        if canonical not in self._fetched:
            self._fetched[canonical] = self._resolve(canonical)
        return self._fetched[canonical]

    def fetch(self, canonical: str, element_id: str) -> dict[str, Any]:
        """A StructureDefinition with a snapshot, or SnapshotError saying what is missing."""
        found = self._lookup(canonical)
        if found is None:
            raise SnapshotError(f"{element_id}: cannot resolve {canonical}")
        elements = (found.get("snapshot") or {}).get("element")
        if not isinstance(elements, list) or not elements:
            raise SnapshotError(f"{element_id}: {canonical} has no snapshot")
        return found


PROFILE_ELEMENT = "http://hl7.org/fhir/StructureDefinition/elementdefinition-profile-element"


def _profile_element(type_ref: dict[str, Any]) -> str | None:
    """The element id a type's (first) profile names with the profile-element extension."""
    companions = type_ref.get("_profile")
    first = companions[0] if isinstance(companions, list) and companions else None
    extensions = first.get("extension") if isinstance(first, dict) else None
    for extension in extensions if isinstance(extensions, list) else []:
        if isinstance(extension, dict) and extension.get("url") == PROFILE_ELEMENT:
            value = extension.get("valueString")
            return value if isinstance(value, str) and value else None
    return None


def _profiles(element: Element) -> list[str]:
    """The type profiles of a single-typed element (what its children are listed from)."""
    types = element.get("type") or []
    return [str(p) for p in types[0].get("profile") or []] if len(types) == 1 else []


def _default_slicing(sliced: Node, element_id: str) -> dict[str, Any]:
    """The slicing R4 implies where a profile slices without saying how (extensions by url,
    choice types by type); any other element must be given a slicing first."""
    codes = [t.get("code") for t in sliced.element.get("type") or []]
    if sliced.name in ("extension", "modifierExtension") and codes == ["Extension"]:
        return dict(EXTENSION_SLICING)
    if sliced.name.endswith("[x]"):
        return dict(TYPE_SLICING)
    raise SnapshotError(f"{element_id}: slices {sliced.id}, which has no slicing defined")
