"""Which slice an element instance belongs to, decided by the slicing's discriminators."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from harness.validators.fhirprofile.elements import Discriminator, ElementNode
from harness.validators.fhirprofile.index import ProfileIndex, split_canonical
from harness.validators.fhirprofile.instance import (
    children_named,
    choice_type,
    extension_url,
    matches_pattern,
    split_path,
)

_LITERAL = re.compile(r"^(?:.*/)?([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/.*)?$")
# (slice node, instance value, type code) -> conforms; the fallback when a discriminator's
# expected value cannot be read from the slice definition
NodeConformance = Callable[[ElementNode, Any, str], bool]
# (resource, profile canonical) -> conforms, or None when the profile is not installed
ResourceConformance = Callable[[dict[str, Any], str], bool | None]
Resolve = Callable[[Any], dict[str, Any] | None]
# canonical -> root element of that (type) profile, for paths that continue into a type profile
TypeRoot = Callable[[str], ElementNode | None]


class SliceMatcher:
    def __init__(
        self,
        index: ProfileIndex,
        node_conforms: NodeConformance,
        resource_conforms: ResourceConformance,
        resolve: Resolve,
        type_root: TypeRoot,
    ) -> None:
        self.index = index
        self.type_root = type_root
        self.node_conforms = node_conforms
        self.resource_conforms = resource_conforms
        self.resolve = resolve

    def matches(
        self, base: ElementNode, slice_node: ElementNode, value: Any, type_code: str
    ) -> bool:
        discriminators = base.slicing.discriminators if base.slicing else ()
        if not discriminators:
            return self.node_conforms(slice_node, value, type_code)
        for discriminator in discriminators:
            answer = self._one(discriminator, slice_node, value, type_code)
            if answer is None:
                return self.node_conforms(slice_node, value, type_code)
            if not answer:
                return False
        return True

    def _one(self, d: Discriminator, node: ElementNode, value: Any, type_code: str) -> bool | None:
        steps = split_path(d.path)
        if d.type in ("value", "pattern"):
            expected = self._expected(node, steps)
            if expected is None:
                return None
            return any(matches_pattern(v, expected) for v in self._values(value, steps))
        if d.type == "type":
            if not steps:
                return type_code in node.type_codes
            target = _navigate(node, steps)
            if target is None:
                return None
            if not target.is_choice:
                # a resource-typed element (Bundle.entry.resource): its resourceType tells
                kinds = [
                    v.get("resourceType") for v in self._values(value, steps) if isinstance(v, dict)
                ]
                if not kinds or not all(isinstance(k, str) for k in kinds):
                    return None
                return all(k in target.type_codes for k in kinds)
            holders = self._values(value, steps[:-1])
            actual = [
                choice_type(target.json_name, key)
                for holder in holders
                if isinstance(holder, dict)
                for key in holder
            ]
            return any(t in target.type_codes for t in actual if t)
        if d.type == "profile":
            return self._profile(node, steps, value)
        if d.type == "exists":
            target = _navigate(node, steps)
            if target is None:
                return None
            present = bool(self._values(value, steps))
            if target.min > 0:
                return present
            if target.max == 0:
                return not present
            return None
        return None

    def _profile(self, node: ElementNode, steps: list[str], value: Any) -> bool | None:
        resolves = bool(steps) and steps[-1] == "resolve()"
        target = _navigate(node, steps[:-1] if resolves else steps)
        if target is None:
            return None
        wanted = [p for t in target.types for p in (t.target_profiles if resolves else t.profiles)]
        if not wanted:
            return None
        instances = self._values(value, steps[:-1] if resolves else steps)
        if resolves:
            resolved = [r for r in (self.resolve(i) for i in instances) if r is not None]
            if len(resolved) < len(instances):
                # the target is not at hand; its type is still in a literal reference
                # (Organization/123), and a target of another type cannot conform
                if self._type_excluded(instances, wanted):
                    return False
                return None  # let the slice's own rules decide
            instances = resolved
        if not instances:
            return False
        for instance in instances:
            if not isinstance(instance, dict):
                return None
            answers = [self.resource_conforms(instance, p) for p in wanted]
            if any(a is None for a in answers):
                return None
            if not any(answers):
                return False
        return True

    def _type_excluded(self, references: list[Any], wanted: list[str]) -> bool:
        """Whether every reference names a resource type none of the wanted profiles is for."""
        types = set()
        for url in wanted:
            root = self.type_root(url)
            if root is None:
                return False
            types.add(root.path)
        for reference in references:
            text = reference.get("reference") if isinstance(reference, dict) else reference
            match = _LITERAL.match(text) if isinstance(text, str) else None
            if match is None or match.group(1) in types:
                return False
        return True

    def _expected(self, node: ElementNode, steps: list[str]) -> Any:
        """The fixed or pattern value the slice requires at the discriminator path."""
        if not steps:
            return _value_of(node)
        target = _navigate(node, steps, self.type_root)
        if target is not None:
            return _value_of(target)
        if steps[-1] == "url":  # an extension slice says its url through its type profile
            holder = _navigate(node, steps[:-1]) if len(steps) > 1 else node
            if holder is not None:
                for type_ref in holder.types:
                    if type_ref.code == "Extension" and type_ref.profiles:
                        return split_canonical(type_ref.profiles[0])[0]
        return None

    def _values(self, value: Any, steps: list[str]) -> list[Any]:
        values = [value]
        for step in steps:
            url = extension_url(step)
            if url is not None:
                values = [
                    e
                    for v in values
                    for e in children_named(v, "extension")
                    if isinstance(e, dict) and e.get("url") == url
                ]
            elif step == "resolve()":
                values = [r for r in (self.resolve(v) for v in values) if r is not None]
            else:
                values = [c for v in values for c in children_named(v, step)]
        return values


def _value_of(node: ElementNode) -> Any:
    if node.fixed is not None:
        return node.fixed[1]
    if node.pattern is not None:
        return node.pattern[1]
    return None


def _navigate(
    node: ElementNode, steps: list[str], type_root: TypeRoot | None = None
) -> ElementNode | None:
    current: ElementNode | None = node
    for step in steps:
        if current is None:
            return None
        if not current.children and type_root is not None:
            # a slice like `identifier:cpr` says what it is through its type profile
            profiled = [p for t in current.types for p in t.profiles]
            root = type_root(profiled[0]) if profiled else None
            current = root if root is not None else current
        url = extension_url(step)
        if url is not None:
            current = _extension_slice(current, url)
        else:
            current = current.children.get(step) or current.children.get(step + "[x]")
    return current


def _extension_slice(node: ElementNode, url: str) -> ElementNode | None:
    extensions = node.children.get("extension")
    if extensions is None:
        return None
    for candidate in extensions.slices:
        url_child = candidate.children.get("url")
        if url_child is not None and url_child.fixed is not None and url_child.fixed[1] == url:
            return candidate
        for type_ref in candidate.types:
            if any(split_canonical(p)[0] == url for p in type_ref.profiles):
                return candidate
    return None
