"""The element tree a snapshot is built in: children in base order, slices after them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

Element = dict[str, Any]


class SnapshotError(ValueError):
    """Why a profile cannot be expanded into a snapshot (names the element id)."""


@dataclass(eq=False)
class Node:
    """One snapshot element; `element` is shared with its source until first edited."""

    element: Element
    id: str
    path: str
    origin: Element  # the element as it was before the differential touched it
    children: list[Node] = field(default_factory=list)
    slices: list[Node] = field(default_factory=list)
    owned: bool = False
    # True for slices the differential introduced: a new slice is cloned from the sliced
    # element as the base had it, so these never take part in such a clone
    from_diff: bool = False
    # True when the children were added by expanding the type on the differential's demand
    expanded: bool = False
    # the differential elements merged into this element, in order: replayed when the element
    # is rebuilt on another type profile
    applied: list[Element] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The last path segment, e.g. "value[x]"."""
        return self.path.rpartition(".")[2]

    @property
    def slice_name(self) -> str | None:
        value = self.element.get("sliceName")
        return value if isinstance(value, str) else None

    def edit(self) -> Element:
        """The element, copied first so the source snapshot is never changed."""
        if not self.owned:
            self.element = dict(self.element)
            self.owned = True
        return self.element

    def child(self, name: str) -> Node | None:
        for child in self.children:
            if child.name == name:
                return child
        return None

    def walk(self) -> Iterator[Node]:
        """Snapshot order: the element, its children, then its slices (each with theirs)."""
        yield self
        for child in self.children:
            yield from child.walk()
        for item in self.slices:
            yield from item.walk()


def split_id(element_id: str) -> list[tuple[str, str | None]]:
    """`A.b:s.c` -> [("A", None), ("b", "s"), ("c", None)]."""
    parts = []
    for segment in element_id.split("."):
        name, sep, slice_name = segment.partition(":")
        parts.append((name, slice_name if sep else None))
    return parts


def derive_ids(elements: Sequence[Element]) -> list[str]:
    """Element ids, from `id` where given, else from path and the slice in scope (old SDs)."""
    ids: list[str] = []
    scope: dict[str, str] = {}  # path -> id of the element most recently seen at that path
    for raw in elements:
        path = raw.get("path")
        if not isinstance(path, str) or not path:
            raise SnapshotError(f"element #{len(ids)} has no path")
        given = raw.get("id")
        if isinstance(given, str) and given and _names(given) == path.split("."):
            element_id = given
        else:
            parent, _, last = path.rpartition(".")
            prefix = (scope.get(parent, parent) + ".") if parent else ""
            slice_name = raw.get("sliceName")
            element_id = prefix + last + (f":{slice_name}" if slice_name else "")
        for known in [p for p in scope if p.startswith(path + ".")]:
            del scope[known]
        scope[path] = element_id
        ids.append(element_id)
    return ids


def _names(element_id: str) -> list[str]:
    return [name for name, _ in split_id(element_id)]


def build_tree(
    elements: Sequence[Element], id_root: str | None = None, path_root: str | None = None
) -> Node:
    """Link elements into a tree; with id_root/path_root the first segment is renamed (a
    datatype's `Identifier.system` becomes `Patient.identifier:cpr.system`)."""
    if not elements:
        raise SnapshotError("empty element list")
    ids = derive_ids(elements)
    first = ids[0]
    by_id: dict[str, Node] = {}
    root: Node | None = None
    for raw, raw_id in zip(elements, ids, strict=True):
        element_id, path = raw_id, str(raw["path"])
        if id_root is not None and path_root is not None:
            element_id = _rebase(raw_id, first, id_root)
            path = _rebase(path, str(elements[0]["path"]), path_root)
        node = Node(raw, element_id, path, raw)
        if root is None:
            root = node
            by_id[element_id] = node
            continue
        if element_id in by_id:
            raise SnapshotError(f"{element_id}: the element id occurs twice")
        by_id[element_id] = node
        parent_id, _, last = element_id.rpartition(".")
        name, sep, slice_name = last.partition(":")
        if sep:
            # `a:b/c` re-slices slice `a:b`; `a:b` slices the plain element `a`
            owner_id = parent_id + "." + name
            if "/" in slice_name:
                owner_id += ":" + slice_name.rpartition("/")[0]
            owner = by_id.get(owner_id)
            if owner is None:
                raise SnapshotError(f"{element_id}: slice of an element that is not listed")
            owner.slices.append(node)
            continue
        parent = by_id.get(parent_id)
        if parent is None:
            raise SnapshotError(f"{element_id}: the parent element {parent_id} is not listed")
        parent.children.append(node)
    assert root is not None
    return root


def _rebase(text: str, old_root: str, new_root: str) -> str:
    if text == old_root:
        return new_root
    if text.startswith(old_root + ".") or text.startswith(old_root + ":"):
        return new_root + text[len(old_root) :]
    raise SnapshotError(f"{text}: not below {old_root}")


def clone(node: Node, new_id: str, pristine: bool, new_path: str | None = None) -> Node:
    """A copy of node's subtree under a new id (and path, if given); pristine takes the
    elements as they were before the differential and leaves out what it added."""
    paths = (node.path, new_path if new_path is not None else node.path)
    return _clone(node, (node.id, new_id), paths, pristine)


def _clone(node: Node, ids: tuple[str, str], paths: tuple[str, str], pristine: bool) -> Node:
    # an edited element stays editable in place in the original: the copy gets its own
    element = node.origin if pristine else dict(node.element) if node.owned else node.element
    copy = Node(
        element,
        ids[1] + node.id[len(ids[0]) :],
        paths[1] + node.path[len(paths[0]) :],
        node.origin,
    )
    copy.owned = node.owned and not pristine
    copy.from_diff = node.from_diff
    if pristine and node.expanded:
        return copy
    copy.expanded = node.expanded
    copy.applied = list(node.applied)
    copy.children = [_clone(c, ids, paths, pristine) for c in node.children]
    copy.slices = [
        _clone(s, ids, paths, pristine) for s in node.slices if not (pristine and s.from_diff)
    ]
    return copy
