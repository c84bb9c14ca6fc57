"""Walk an instance along an element tree: every value at every depth is checked against its
element (cardinality, type, fixed/pattern, binding, invariants, slices) and, where the profile's
snapshot stops, against its datatype's own definition from the FHIR base package."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from harness.fhir.fhirpath import FhirPathError, evaluate
from harness.validators.fhirprofile import rules
from harness.validators.fhirprofile.bindings import CODED, check_binding
from harness.validators.fhirprofile.elements import Constraint, ElementNode, ElementTree
from harness.validators.fhirprofile.extensions import Owner, context_problem
from harness.validators.fhirprofile.index import Profile, ProfileIndex, split_canonical
from harness.validators.fhirprofile.instance import (
    PRIMITIVES,
    SUFFIX_TO_TYPE,
    choice_type,
    deep_equal,
    matches_pattern,
    shape_problem,
)
from harness.validators.fhirprofile.invariants import invariants_of
from harness.validators.fhirprofile.limits import limit_problem
from harness.validators.fhirprofile.narrative import anchors, link_problems
from harness.validators.fhirprofile.primitives import resource_id_problem, value_problem
from harness.validators.fhirprofile.run import Run
from harness.validators.fhirprofile.slicing import SliceMatcher

BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
# Types whose insides the FHIRPath engine must know to navigate choice elements in constraints.
_UNTYPED = frozenset({"BackboneElement", "Element", "Resource", ""})
_INLINE = frozenset({"BackboneElement", "Element"})
# Properties every FHIR JSON object may carry besides its elements.
_RESOURCE_KEYS = frozenset({"resourceType"})
_LITERAL_TYPE = re.compile(
    r"^(?:[a-z][a-z0-9+.\-]*://[^?#]*/)?([A-Za-z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}"
)
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# the domains of the specification's own examples
_EXAMPLE = re.compile(r"^https?://(www\.)?(example\.org|acme\.(com|org))(/|$)")
# One instance value: (value or None, its `_name` object or None, path, type code).
Item = tuple[Any, Any, str, str]


class Walker:
    """The element-level half of the validator; ProfileValidator adds resources and Bundles."""

    def __init__(self, index: ProfileIndex, allow_examples: bool = False) -> None:
        self.index = index
        # the specification's own examples use example.org extensions nobody defines; a system
        # under test may not
        self.allow_examples = allow_examples
        self._resource_types: dict[str, bool] = {}

    # hooks the resource level provides ------------------------------------------------------

    def nested_resource(
        self, run: Run, node: ElementNode, value: dict[str, Any], path: str
    ) -> None:
        raise NotImplementedError

    def conforms_to(
        self, run: Run, resource: dict[str, Any], url: str, strict: bool = True
    ) -> bool:
        raise NotImplementedError

    # base definitions ------------------------------------------------------------------------

    def type_root(self, run: Run, type_code: str, path: str) -> Profile | None:
        """The base definition of a datatype (Period, HumanName, string...), or None with a
        not-run note when the context has no FHIR base package."""
        if not run.context.has_core:
            return None  # said once for the whole report
        return self.index.profile(BASE_PROFILE + type_code, run.context)

    def _constraints(self, run: Run, node: ElementNode, type_code: str) -> tuple[Constraint, ...]:
        """The element's constraints and those its datatype defines on itself (per-1 on a
        Period, txt-1 on a Narrative), each key once."""
        key = ("constraints", type_code, run.context.has_core)
        found: tuple[Constraint, ...] | None = node.memo.get(key)
        if found is None:
            merged = list(node.constraints)
            if type_code and type_code not in _UNTYPED and run.context.has_core:
                base = self.index.profile(BASE_PROFILE + type_code, run.context)
                if base is not None and base.tree.root is not node:
                    keys = {c.key for c in merged}
                    merged += [c for c in base.tree.root.constraints if c.key not in keys]
            found = tuple(merged)
            node.memo[key] = found
        return found

    # elements -----------------------------------------------------------------------------------

    def item(
        self,
        run: Run,
        node: ElementNode,
        value: Any,
        path: str,
        tree: ElementTree,
        type_code: str,
        ext: Any = None,
        parent_url: str | None = None,
    ) -> None:
        """One instance value at one element: values, binding, invariants, then its children.
        `parent_url`: the url of the extension the value sits in, if it does."""
        present = value if value is not None else ext
        if node.fixed is not None and not deep_equal(value, node.fixed[1]):
            run.add(
                rules.FIXED,
                rules.ERROR,
                f"{node.fixed[0]}: expected {_show(node.fixed[1])}, found {_show(value)}",
                path,
            )
        if node.pattern is not None and not matches_pattern(value, node.pattern[1]):
            run.add(
                rules.PATTERN,
                rules.ERROR,
                f"{node.pattern[0]}: expected {_show(node.pattern[1])}, found {_show(value)}",
                path,
            )
        if node.binding is not None and type_code in CODED:
            if value is None:
                self._code_absent(run, node, ext, path)
            else:
                check_binding(self.index, run, node, value, path, type_code)
        if value is not None and (node.min_value or node.max_value or node.max_length):
            beyond = limit_problem(
                node.min_value, node.max_value, node.max_length, type_code, value
            )
            if beyond is not None:
                run.add(rules.VALUE, rules.ERROR, f"{node.path}: {beyond}", path)
        constraints = self._constraints(run, node, type_code)
        if constraints:
            self._invariants(run, node, constraints, present, path, type_code)
        if type_code in PRIMITIVES:
            if ext is not None:
                self._primitive_extensions(run, ext, path, type_code, node.path, parent_url)
            return
        if not isinstance(value, dict):
            return
        if "." in node.path and self.is_resource_type(run, type_code):
            # a contained resource, a Bundle entry, a Parameters value: judged as a resource
            # of its own; where the profile spells out its elements, those hold as well
            self.nested_resource(run, node, value, path)
            if node.children:
                with run.on_resource(value):
                    self._children(run, node, value, path, tree, type_code, resource=True)
            return
        holder, holder_tree = node, tree
        overlay: ElementNode | None = None
        if not node.children or (node.is_choice and len(node.types) > 1):
            if node.content_reference and not node.children:
                # the element a contentReference names, as the base definition has it: a
                # profile's constraints on that element (a sliced parameter with a fixed name)
                # are not constraints on every nested part, as the reference validator reads it
                holder, holder_tree = self._content_target(run, node, tree)
            elif type_code not in _INLINE and type_code:
                base = self.type_root(run, type_code, path)
                if base is not None:
                    # a choice of several types lists only what they share (id, extension):
                    # the chosen type's own elements come from its definition
                    overlay = node if node.children else None
                    holder, holder_tree = base.tree.root, base.tree
        self._children(
            run, holder, value, path, holder_tree, type_code, owner_node=node, overlay=overlay
        )
        if type_code == "Reference":
            self._reference_target(run, node, value, path)
        elif type_code == "Attachment":
            self._attachment(run, value, path)
        elif type_code == "Narrative" and isinstance(value.get("div"), str):
            known = run.memo.get("anchors")
            if known is None:
                known = run.memo["anchors"] = anchors(run.top)
            for problem in link_problems(value["div"], known):
                run.add(rules.NARRATIVE, rules.ERROR, problem, f"{path}.div")
        for type_ref in node.types:
            if type_ref.code == type_code and type_ref.profiles:
                self._type_profiles(run, type_ref.profiles, value, path, type_code)

    def _children(
        self,
        run: Run,
        holder: ElementNode,
        value: dict[str, Any],
        path: str,
        tree: ElementTree,
        type_code: str,
        owner_node: ElementNode | None = None,
        resource: bool = False,
        overlay: ElementNode | None = None,
    ) -> None:
        """The child elements of one object value, and the properties no element defines;
        `overlay`'s children (a profile's) take the place of the holder's of the same name."""
        at = owner_node or holder
        owner = Owner(
            at.path, type_code, value.get("url") if type_code == "Extension" else None, value
        )
        # a resource's root element has its type as path (Patient); a datatype's root does too,
        # but a datatype value carries no resourceType naming it
        root = resource or ("." not in holder.path and value.get("resourceType") == holder.path)
        if holder.children:
            self._unknown_keys(run, holder, value, path, root)
        contained = path.rsplit(".", 1)[-1].startswith("contained[")
        if root and "id" in value:
            # as the reference validator has it, a contained resource's id may be longer
            problem = resource_id_problem(value["id"], check_length=not contained)
            if problem is not None:
                run.add(rules.VALUE, rules.ERROR, f"invalid resource id: {problem}", f"{path}.id")
        for child, key, extension_key in holder.child_keys:
            if key is not None and key not in value and extension_key not in value:
                # the common case, tested inline: an optional element that is absent
                if child.min > 0:
                    run.add(
                        rules.CARD,
                        rules.ERROR,
                        f"{child.path}: expected {child.cardinality()}, found 0",
                        f"{path}.{key}",
                    )
                for required in child.required_slices:
                    run.add(
                        rules.SLICE,
                        rules.ERROR,
                        f"slice {required.slice_name!r} of {child.path}: expected "
                        f"{required.cardinality()}, found 0",
                        f"{path}.{key}",
                    )
                continue
            if overlay is not None and child.name in overlay.children:
                self.child(run, overlay.children[child.name], value, path, tree, owner)
            else:
                self.child(run, child, value, path, tree, owner)

    def _content_target(
        self, run: Run, node: ElementNode, tree: ElementTree
    ) -> tuple[ElementNode, ElementTree]:
        reference = str(node.content_reference)
        if run.context.has_core:
            base = self.index.profile(BASE_PROFILE + reference.split(".")[0], run.context)
            target = base.tree.by_path(reference) if base is not None else None
            if base is not None and target is not None:
                return target, base.tree
        found = tree.by_path(reference)
        return (found, tree) if found is not None else (node, tree)

    def is_resource_type(self, run: Run, type_code: str) -> bool:
        """Whether a type code names a resource (Resource itself, or Patient, Practitioner...)."""
        if type_code == "Resource":
            return True
        if not type_code[:1].isupper() or not run.context.has_core:
            return False
        known = self._resource_types.get(type_code)
        if known is None:
            base = self.index.profile(BASE_PROFILE + type_code, run.context)
            known = base is not None and base.kind == "resource"
            self._resource_types[type_code] = known  # the base definitions are one package
        return known

    def _code_absent(self, run: Run, node: ElementNode, ext: Any, path: str) -> None:
        """A primitive code with only extensions (data-absent-reason, say) under a required
        binding: the binding asks for a code, and there is none."""
        binding = node.binding
        if binding is None or binding.strength != "required":
            return
        run.add(
            rules.BINDING,
            rules.ERROR,
            f"no code provided, and a code is required from ValueSet {binding.value_set}",
            path,
        )

    def _unknown_keys(
        self, run: Run, holder: ElementNode, value: dict[str, Any], path: str, resource: bool
    ) -> None:
        exact = holder.exact_keys
        stems = holder.choice_names
        for key in value:
            if key in exact:
                continue
            if key in _RESOURCE_KEYS and resource:
                continue
            bare = key[1:] if key.startswith("_") else key
            if any(bare.startswith(s) and bare[len(s) :] in SUFFIX_TO_TYPE for s in stems):
                continue  # a choice element; child() judges whether the type is allowed
            run.add(
                rules.UNKNOWN_ELEMENT,
                rules.ERROR,
                f"unrecognised property {key!r}: {holder.path} has no such element",
                f"{path}.{bare}",
            )

    def child(
        self,
        run: Run,
        child: ElementNode,
        parent: dict[str, Any],
        parent_path: str,
        tree: ElementTree,
        owner: Owner,
    ) -> None:
        name = child.json_name
        base_path = f"{parent_path}.{name}"
        items: list[Item] = []
        if child.is_choice:
            for key in list(parent):
                bare = key[1:] if key.startswith("_") else key
                chosen = choice_type(name, bare)
                if chosen is None or (key.startswith("_") and bare in parent):
                    continue
                if chosen not in child.type_codes:
                    run.add(
                        rules.TYPE,
                        rules.ERROR,
                        f"{name}[x] as {chosen} is not allowed here; allowed: "
                        + ", ".join(child.type_codes),
                        base_path,
                    )
                    continue
                items += self._pair(run, child, parent, bare, base_path, chosen)
        else:
            type_code = child.types[0].code if child.types else "BackboneElement"
            items = self._pair(run, child, parent, name, base_path, type_code)
        count = len(items)
        if count < child.min or (child.max is not None and count > child.max):
            run.add(
                rules.CARD,
                rules.ERROR,
                f"{child.path}: expected {child.cardinality()}, found {count}",
                base_path,
            )
        if not items:
            return
        checked: list[Item] = []
        for value, ext, path, type_code in items:
            problem = shape_problem(type_code, value) if value is not None else None
            if problem is None and value is not None and type_code in PRIMITIVES:
                invalid = value_problem(type_code, value)
                if invalid is not None:
                    run.add(rules.VALUE, rules.ERROR, f"{child.path}: {invalid}", path)
            elif problem:
                run.add(
                    rules.TYPE,
                    rules.ERROR,
                    f"{child.path} is a {type_code}: expected {problem}, found {_show(value)}",
                    path,
                )
                continue
            checked.append((value, ext, path, type_code))
        assigned: list[ElementNode | None] = [None] * len(checked)
        if child.slices:
            assigned = self._slices(run, child, checked, base_path, tree)
        outer = owner.url if owner.type_code == "Extension" else None
        for (value, ext, path, type_code), slice_node in zip(checked, assigned, strict=True):
            if slice_node is None or (child.children and not slice_node.children):
                self.item(run, child, value, path, tree, type_code, ext, outer)
            # a slice's snapshot repeats everything the sliced element says, children included:
            # walking the value once, against the slice, judges both
            if slice_node is not None:
                self.item(run, slice_node, value, path, tree, type_code, ext, outer)
            if type_code == "Extension" and isinstance(value, dict):
                self._extension(run, child, slice_node, value, path, owner)

    def _pair(
        self,
        run: Run,
        child: ElementNode,
        parent: dict[str, Any],
        key: str,
        path: str,
        type_code: str,
    ) -> list[Item]:
        """The values of one JSON property with their `_name` companions (FHIR JSON keeps a
        primitive's id and extensions in a parallel array with null placeholders)."""
        raw = parent.get(key)
        ext = parent.get("_" + key) if type_code in PRIMITIVES else None
        many = isinstance(raw, list) or isinstance(ext, list)
        if many and not child.repeats:
            run.add(
                rules.STRUCTURE,
                rules.ERROR,
                f"{child.path} holds at most one value: an array is not allowed here",
                path,
            )
        elif not many and child.repeats and (raw is not None or ext is not None):
            run.add(
                rules.STRUCTURE,
                rules.ERROR,
                f"{child.path} repeats: its JSON value must be an array",
                path,
            )
        if not many:
            if raw is None and ext is None:
                if key in parent:
                    run.add(rules.STRUCTURE, rules.ERROR, f"{child.path} is null", path)
                return []
            return [(raw, ext, path, type_code)]
        values = raw if isinstance(raw, list) else ([] if raw is None else [raw])
        extras = ext if isinstance(ext, list) else ([] if ext is None else [ext])
        if not values and not extras:
            run.add(rules.STRUCTURE, rules.ERROR, f"{child.path}: an empty array", path)
            return []
        if extras and values and len(extras) != len(values):
            run.add(
                rules.STRUCTURE,
                rules.ERROR,
                f"{child.path}: {len(values)} values but {len(extras)} entries in _{key}",
                path,
            )
        found: list[Item] = []
        for number in range(max(len(values), len(extras))):
            value = values[number] if number < len(values) else None
            extra = extras[number] if number < len(extras) else None
            where = f"{path}[{number}]"
            if value is None and extra is None:
                run.add(
                    rules.STRUCTURE,
                    rules.ERROR,
                    f"{child.path}: null in an array, with no id or extension to explain it",
                    where,
                )
                continue
            found.append((value, extra, where, type_code))
        return found

    def _primitive_extensions(
        self,
        run: Run,
        ext: Any,
        path: str,
        type_code: str,
        element_path: str,
        parent_url: str | None,
    ) -> None:
        """The `_name` object of a primitive: its id and extensions, judged like any element."""
        if not isinstance(ext, dict):
            run.add(
                rules.STRUCTURE,
                rules.ERROR,
                f"the id/extension companion of a {type_code} must be an object, "
                f"found {_show(ext)}",
                path,
            )
            return
        base = self.type_root(run, type_code, path)
        if base is None:
            return
        holder = base.tree.root
        owner = Owner(element_path, type_code, parent_url)
        for key in ext:
            if key not in ("id", "extension"):
                run.add(
                    rules.UNKNOWN_ELEMENT,
                    rules.ERROR,
                    f"unrecognised property {key!r} beside a {type_code} value: only id and "
                    "extension may be there",
                    f"{path}.{key}",
                )
        for child, key, _ in holder.child_keys:
            if key in ("id", "extension") and key in ext:
                self.child(run, child, ext, path, base.tree, owner)

    # slices, extensions, type profiles --------------------------------------------------------

    def _slices(
        self,
        run: Run,
        base: ElementNode,
        items: list[Item],
        base_path: str,
        tree: ElementTree,
    ) -> list[ElementNode | None]:
        matcher = self._matcher(run, tree)
        assigned: list[ElementNode | None] = []
        counts = {id(s): 0 for s in base.slices}
        closed = base.slicing is not None and base.slicing.rules == "closed"
        for value, _, path, type_code in items:
            match = next(
                (s for s in base.slices if matcher.matches(base, s, value, type_code)), None
            )
            assigned.append(match)
            if match is not None:
                counts[id(match)] += 1
            elif closed:
                names = ", ".join(str(s.slice_name) for s in base.slices)
                run.add(
                    rules.SLICE,
                    rules.ERROR,
                    f"{base.path} is closed-sliced ({names}); this element matches no slice",
                    path,
                )
        for slice_node in base.slices:
            found = counts[id(slice_node)]
            if found < slice_node.min or (slice_node.max is not None and found > slice_node.max):
                run.add(
                    rules.SLICE,
                    rules.ERROR,
                    f"slice {slice_node.slice_name!r} of {base.path}: expected "
                    f"{slice_node.cardinality()}, found {found}",
                    base_path,
                )
        return assigned

    def _matcher(self, run: Run, tree: ElementTree) -> SliceMatcher:
        def node_conforms(node: ElementNode, value: Any, type_code: str) -> bool:
            with run.scratch() as found:
                self.item(run, node, value, "", tree, type_code)
            return not any(f.blocking for f in found)

        def resource_conforms(resource: dict[str, Any], url: str) -> bool | None:
            return self.conforms_to(run, resource, url, strict=False)

        def type_root(url: str) -> ElementNode | None:
            found = self.index.element(url, run.context)
            return found[1] if found else None

        return SliceMatcher(
            self.index,
            node_conforms,
            resource_conforms,
            lambda v: run.resolver.resolve_any(v, run.base_url),
            type_root,
        )

    def _extension(
        self,
        run: Run,
        node: ElementNode,
        slice_node: ElementNode | None,
        value: dict[str, Any],
        path: str,
        owner: Owner,
    ) -> None:
        """An extension: its definition, where it may be used, and (when no slice claims it)
        its content against that definition."""
        url = value.get("url")
        if not isinstance(url, str):
            return  # Extension.url is 1..1: the cardinality check reports it
        if not _ABSOLUTE.match(url):
            if owner.type_code != "Extension":
                run.add(
                    rules.EXTENSION, rules.ERROR, f"Extension.url {url!r} is not absolute", path
                )
            # inside a complex extension a relative url names one of its parts: the outer
            # extension's definition judges it
            return
        if "|" in url:
            run.add(
                rules.EXTENSION,
                rules.ERROR,
                f"Extension.url {url!r} carries a version: an extension is named by its url alone",
                path,
            )
        claimed = slice_node is not None or any(t.profiles for t in node.types)
        found = self.index.profile(url, run.context)
        if found is None:
            if claimed:
                return  # the slice's type profile reports its own absence
            if _EXAMPLE.match(url):
                if self.allow_examples:
                    return  # example extensions are let be, as the specification's own do
                run.add(
                    rules.EXTENSION,
                    rules.ERROR,
                    f"extension {url}: an example URL that no definition in the context has",
                    f"{path}.url",
                )
            reason, gap = self.index.why_missing(url, run.context)
            if gap:
                run.skip(f"extension {url}: {reason}", path)
            else:
                run.add(
                    rules.EXTENSION,
                    rules.ERROR,
                    f"extension {url} could not be found, so it is not allowed here ({reason})",
                    path,
                )
            return
        problem = context_problem(found.resource, owner, url, lambda e: _evaluate(run, e))
        if problem is not None:
            run.add(rules.EXTENSION, rules.ERROR, problem, path)
        if not claimed:
            self.item(run, found.tree.root, value, path, found.tree, "Extension")

    def _type_profiles(
        self, run: Run, profiles: tuple[str, ...], item: dict[str, Any], path: str, type_code: str
    ) -> None:
        found = [e for e in (self.index.element(u, run.context) for u in profiles) if e]
        if not found:
            reason, gap = self.index.why_missing(profiles[0], run.context)
            if gap:
                run.skip(f"type profile {' or '.join(profiles)}: {reason}", path)
            else:
                run.add(
                    rules.PROFILE_UNKNOWN,
                    rules.INFO,
                    f"type profile {' or '.join(profiles)} is not in the context: not checked "
                    f"({reason})",
                    path,
                )
            return
        if len(found) > 1:  # any one of them will do
            for profile, node in found:
                with run.scratch() as issues:
                    self.item(run, node, item, path, profile.tree, type_code)
                if not any(f.blocking for f in issues):
                    run.findings += issues
                    return
        profile, node = found[0]
        self.item(run, node, item, path, profile.tree, type_code)

    def _attachment(self, run: Run, value: dict[str, Any], path: str) -> None:
        """Attachment.size is the size of the data, when the data is there."""
        data, size = value.get("data"), value.get("size")
        if not isinstance(data, str) or not isinstance(size, int) or isinstance(size, bool):
            return
        try:
            actual = len(base64.b64decode("".join(data.split()), validate=True))
        except (binascii.Error, ValueError):
            return  # the base64Binary check reports it
        if actual != size:
            run.add(
                rules.VALUE,
                rules.ERROR,
                f"Attachment.size says {size} bytes, but the data holds {actual}",
                path,
            )

    def _reference_target(
        self, run: Run, node: ElementNode, item: dict[str, Any], path: str
    ) -> None:
        targets = [p for t in node.types if t.code == "Reference" for p in t.target_profiles]
        if not targets:
            return
        allowed: dict[str, list[str]] = {}
        for url in targets:
            kind = self._profile_type(run, url)
            if kind is None:
                reason, _ = self.index.why_missing(url, run.context)
                run.skip(f"reference target profile {url}: {reason}", path)
                return  # which types are allowed is not known here: do not accuse
            allowed.setdefault(kind, []).append(url)
        stated = item.get("type")
        if isinstance(stated, str) and "Resource" not in allowed and stated not in allowed:
            run.add(
                rules.REF,
                rules.ERROR,
                f"Reference.type {stated!r} is not a valid target here "
                f"(allowed: {', '.join(sorted(allowed))})",
                path,
            )
        target = run.resolver.resolve_any(item, run.base_url) if run.bundle else None
        if target is None:
            # not at hand; a literal reference (Group/123) still says what type it points to
            literal = _LITERAL_TYPE.match(str(item.get("reference", "")))
            if literal and "Resource" not in allowed and literal.group(1) not in allowed:
                named = literal.group(1)
                if named[:1].islower() and self.is_resource_type(
                    run, named[:1].upper() + named[1:]
                ):
                    run.add(
                        rules.REF,
                        rules.ERROR,
                        f"the reference names the type {named!r}: resource types are spelt "
                        f"with a capital ({named[:1].upper() + named[1:]})",
                        path,
                    )
                elif self.is_resource_type(run, named):
                    run.add(
                        rules.REF,
                        rules.ERROR,
                        f"the reference names a {named}, which is not a valid target here "
                        f"(allowed: {', '.join(sorted(allowed))})",
                        path,
                    )
            return
        rtype = target.get("resourceType")
        if not isinstance(rtype, str):
            return  # the structure check reports a resource without a proper type
        if "Resource" not in allowed and rtype not in allowed:
            run.add(
                rules.REF,
                rules.ERROR,
                f"references a {rtype}; allowed: {', '.join(sorted(allowed))}",
                path,
            )
            return
        wanted = [u for u in allowed.get(str(rtype), []) if not u.startswith(BASE_PROFILE)]
        if not wanted:
            return
        answers = [self.conforms_to(run, target, u, strict=False) for u in wanted]
        if not any(a is None or a for a in answers):
            run.add(
                rules.REF,
                rules.ERROR,
                f"the referenced {rtype} does not conform to "
                + " or ".join(split_canonical(u)[0] for u in wanted),
                path,
            )

    def _profile_type(self, run: Run, url: str) -> str | None:
        plain = split_canonical(url)[0]
        if plain.startswith(BASE_PROFILE) and "/" not in plain[len(BASE_PROFILE) :]:
            tail = plain[len(BASE_PROFILE) :]
            if tail[:1].isupper():
                return tail
        found = self.index.profile(url, run.context)
        return found.type if found else None

    # invariants --------------------------------------------------------------------------------

    def _invariants(
        self,
        run: Run,
        node: ElementNode,
        constraints: tuple[Constraint, ...],
        item: Any,
        path: str,
        type_code: str,
    ) -> None:
        if type_code not in _UNTYPED and type_code[:1].isupper():
            type_path = type_code
        else:
            type_path = node.path
        for constraint, compiled in invariants_of(node, constraints):
            key = (path, constraint.key, constraint.expression)
            outcome = run.outcomes.get(key)
            if outcome is None:
                outcome = compiled.evaluate(item, type_path, run.env)
                run.outcomes[key] = outcome
            if outcome is True:
                continue
            rule_id = rules.invariant_rule(constraint.key)
            if outcome is False:
                run.add(
                    rule_id,
                    rules.ERROR
                    if compiled.blocking
                    else rules.INFO
                    if constraint.best_practice
                    else rules.WARNING,
                    f"invariant {constraint.key} does not hold: {constraint.human} "
                    f"[{constraint.expression}]",
                    path,
                )
            else:
                run.add(
                    rule_id,
                    rules.INFO,
                    f"invariant {constraint.key} not evaluated: {outcome}",
                    path,
                )


def _evaluate(run: Run, expression: str) -> list[Any] | None:
    try:
        return evaluate(run.resource, expression, run.env)
    except FhirPathError:
        return None


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."
