"""Validate FHIR resources (usually MedCom message Bundles) against the installed profiles."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.fhir.resource import structure_issues
from harness.model.finding import Finding
from harness.model.outcome import Severity
from harness.validators.fhirprofile import rules
from harness.validators.fhirprofile.elements import ElementNode, ElementTree
from harness.validators.fhirprofile.index import PackageKey, Profile, ProfileIndex, split_canonical
from harness.validators.fhirprofile.instance import (
    choice_type,
    deep_equal,
    matches_pattern,
    shape_problem,
)
from harness.validators.fhirprofile.invariants import (
    NotEvaluable,
    Scope,
    enter_scope,
    invariants_of,
    leave_scope,
)
from harness.validators.fhirprofile.references import BundleResolver
from harness.validators.fhirprofile.slicing import SliceMatcher

BASE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
CODED = frozenset({"code", "Coding", "CodeableConcept", "Quantity", "string", "uri"})
# Types whose insides the FHIRPath engine must know to navigate choice elements in constraints.
_UNTYPED = frozenset({"BackboneElement", "Element", "Resource", ""})


@dataclass
class _Run:
    """State of one validate() call; nothing here outlives it."""

    evidence: str
    bundle: dict[str, Any] | None
    resolver: BundleResolver
    findings: list[Finding] = field(default_factory=list)
    resource: dict[str, Any] = field(default_factory=dict)
    base_url: str | None = None
    context: PackageKey | None = None
    env: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[tuple[str, str, str], bool | str] = field(default_factory=dict)
    conformance: dict[tuple[int, str], bool] = field(default_factory=dict)

    def add(self, rule_id: str, severity: Severity, message: str, path: str) -> None:
        self.findings.append(rules.finding(rule_id, severity, message, path, self.evidence))

    @contextmanager
    def scratch(self) -> Iterator[list[Finding]]:
        """Collect findings aside (to test conformance) instead of reporting them."""
        saved, self.findings = self.findings, []
        try:
            yield self.findings
        finally:
            self.findings = saved

    @contextmanager
    def on_resource(self, resource: dict[str, Any]) -> Iterator[None]:
        """Switch %resource and the base for relative references to another resource."""
        saved = (self.resource, self.base_url, self.env)
        self.resource = resource
        self.base_url = self.resolver.full_url_of.get(id(resource))
        self.env = {"resource": resource, "rootResource": resource, "bundle": self.bundle}
        try:
            yield
        finally:
            self.resource, self.base_url, self.env = saved

    def result(self) -> list[Finding]:
        # the same fact found through a base element and its slice, or a not-checked note
        # repeated for every element, is reported once
        seen: set[tuple[str, str, str]] = set()
        unique = []
        for item in self.findings:
            path = "" if item.severity is Severity.OK else item.location.path
            key = (item.rule_id, path, item.message)
            if key not in seen:
                seen.add(key)
                unique.append(item)
        return unique


class ProfileValidator:
    """Thread-compatible: all per-call state lives in a _Run; the index is shared."""

    def __init__(self, index: ProfileIndex, *, check_structure: bool = True) -> None:
        self.index = index
        self.check_structure = check_structure
        self._bases = index.canonical_bases()

    # -- public ----------------------------------------------------------------------------------

    def validate(
        self,
        resource: dict[str, Any],
        evidence: str = "",
        profile: str | None = None,
        package: PackageKey | None = None,
    ) -> list[Finding]:
        """Findings for `resource` (and, for a Bundle, every entry) against its profiles:
        the declared meta.profile ones, or `profile` for the top-level resource.

        Unversioned canonicals resolve as `package` (name, version) would resolve them, i.e.
        within its dependencies; by default as the top-level profile's package would."""
        bundle = resource if resource.get("resourceType") == "Bundle" else None
        run = _Run(evidence, bundle, BundleResolver(bundle), context=package)
        token = enter_scope(
            Scope(
                run.resolver,
                lambda r, url: self._conforms_to(run, r, url),
                lambda item, url: self._member_of(run, item, url),
            )
        )
        try:
            if self.check_structure:
                for issue in structure_issues(resource):
                    run.add(rules.STRUCTURE, rules.ERROR, issue.message, issue.path)
            self._validate_top(run, resource, profile)
        except (TypeError, AttributeError, KeyError, ValueError, IndexError) as exc:
            # A hostile or broken shape (a list where a string belongs) that slipped past the
            # structure check: a finding about the resource, never a crash of the judge.
            run.add(
                rules.SHAPE,
                rules.ERROR,
                f"the resource has a shape the profile validator cannot read "
                f"({type(exc).__name__}: {exc})",
                "",
            )
        finally:
            leave_scope(token)
        return run.result()

    # -- resources -------------------------------------------------------------------------------

    def _validate_top(self, run: _Run, resource: dict[str, Any], explicit: str | None) -> None:
        rtype = str(resource.get("resourceType", ""))
        with run.on_resource(resource):
            urls = [explicit] if explicit else _declared(resource)
            if not urls:
                run.add(
                    rules.PROFILE_UNKNOWN,
                    rules.INFO,
                    f"{rtype} declares no meta.profile and none was given: base checks only",
                    rtype,
                )
            for url in urls:
                found = self.index.profile(url, run.context)
                if found is not None and run.context is None:
                    run.context = found.package  # entries resolve within its dependencies
                self._against(run, resource, url, rtype, found)
        if run.bundle is None:
            return
        entries = resource.get("entry")
        for number, entry in enumerate(entries if isinstance(entries, list) else []):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(inner, dict):
                continue
            path = f"Bundle.entry[{number}].resource"
            with run.on_resource(inner):
                for url in _declared(inner):
                    self._against(run, inner, url, path, self.index.profile(url, run.context))
                self._check_references(run, inner, path)

    def _against(
        self, run: _Run, resource: dict[str, Any], url: str, path: str, found: Profile | None
    ) -> None:
        if found is None:
            known = any(url.startswith(base) for base in self._bases)
            run.add(
                rules.PROFILE_UNKNOWN,
                rules.ERROR if known else rules.WARNING,
                f"profile {url} is not in the installed packages"
                + (" (its canonical base is: wrong name or version?)" if known else ""),
                path,
            )
            return
        rtype = resource.get("resourceType")
        if rtype != found.type:
            run.add(
                rules.TYPE,
                rules.ERROR,
                f"profile {found.url} is for {found.type}, found a {rtype}",
                path,
            )
            return
        self._item(run, found.tree.root, resource, path, found.tree, found.type)

    def _check_references(self, run: _Run, resource: dict[str, Any], path: str) -> None:
        """Every reference in a Bundle entry must point into the Bundle (or its contained)."""
        for ref_path, reference in _references(resource, path):
            if reference.startswith("#"):
                contained = resource.get("contained")
                ids = (
                    {c.get("id") for c in contained if isinstance(c, dict)}
                    if isinstance(contained, list)
                    else set()
                )
                if reference[1:] and reference[1:] not in ids:
                    run.add(
                        rules.REF,
                        rules.ERROR,
                        f"reference {reference!r}: no contained resource with that id",
                        ref_path,
                    )
                continue
            if run.resolver.resolve(reference, run.base_url) is not None:
                continue
            # urn:uuid references exist only inside the Bundle; a relative or absolute one may
            # name a resource of an earlier message (MedCom Provenance chains do)
            local = reference.startswith("urn:uuid:")
            run.add(
                rules.REF,
                rules.ERROR if local else rules.WARNING,
                f"reference {reference!r} does not resolve to an entry of the Bundle"
                + ("" if local else " (it may name a resource outside this message)"),
                ref_path,
            )

    # -- elements --------------------------------------------------------------------------------

    def _item(
        self, run: _Run, node: ElementNode, item: Any, path: str, tree: ElementTree, type_code: str
    ) -> None:
        """One instance value at one element: values, binding, invariants, then its children."""
        if node.fixed is not None and not deep_equal(item, node.fixed[1]):
            run.add(
                rules.FIXED,
                rules.ERROR,
                f"{node.fixed[0]}: expected {_show(node.fixed[1])}, found {_show(item)}",
                path,
            )
        if node.pattern is not None and not matches_pattern(item, node.pattern[1]):
            run.add(
                rules.PATTERN,
                rules.ERROR,
                f"{node.pattern[0]}: expected {_show(node.pattern[1])}, found {_show(item)}",
                path,
            )
        if node.binding is not None and type_code in CODED:
            self._binding(run, node, item, path, type_code)
        if node.constraints:
            self._invariants(run, node, item, path, type_code)
        if not isinstance(item, dict):
            return
        holder = node
        if not node.children and node.content_reference:
            target = tree.by_path(node.content_reference)
            holder = target if target is not None else node
        for child, key, extension_key in holder.child_keys:
            if key is not None and key not in item and extension_key not in item:
                # the common case, tested inline: an optional element that is absent
                if child.min > 0:
                    run.add(
                        rules.CARD,
                        rules.ERROR,
                        f"{child.path}: expected {child.cardinality()}, found 0",
                        f"{path}.{key}",
                    )
                continue
            self._child(run, child, item, path, tree)
        if type_code == "Reference":
            self._reference_target(run, node, item, path)
        for type_ref in node.types:
            if type_ref.code == type_code and type_ref.profiles:
                self._type_profiles(run, type_ref.profiles, item, path, type_code)

    def _child(
        self,
        run: _Run,
        child: ElementNode,
        parent: dict[str, Any],
        parent_path: str,
        tree: ElementTree,
    ) -> None:
        name = child.json_name
        choice = child.is_choice
        base_path = f"{parent_path}.{name}"
        items: list[tuple[Any, str, str]] = []  # (value, path, type code)
        if choice:
            for key, raw in parent.items():
                chosen = choice_type(name, key)
                if chosen is None:
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
                items += _spread(raw, base_path, chosen)
        else:
            type_code = child.types[0].code if child.types else "BackboneElement"
            raw = parent.get(name)
            if raw is None and f"_{name}" in parent:
                raw = parent[f"_{name}"]  # a primitive with only extensions still counts
                type_code = "Element"
            items = _spread(raw, base_path, type_code) if raw is not None else []
        count = len(items)
        if count < child.min:
            run.add(
                rules.CARD,
                rules.ERROR,
                f"{child.path}: expected {child.cardinality()}, found {count}",
                base_path,
            )
        if child.max is not None and count > child.max:
            run.add(
                rules.CARD,
                rules.ERROR,
                f"{child.path}: expected {child.cardinality()}, found {count}",
                base_path,
            )
        if not items:
            return
        checked: list[tuple[Any, str, str]] = []
        for value, path, type_code in items:
            problem = shape_problem(type_code, value) if type_code != "Element" else None
            if problem:
                run.add(
                    rules.TYPE,
                    rules.ERROR,
                    f"{child.path} is a {type_code}: expected {problem}, found {_show(value)}",
                    path,
                )
            else:
                checked.append((value, path, type_code))
        assigned: list[ElementNode | None] = [None] * len(checked)
        if child.slices:
            assigned = self._slices(run, child, checked, base_path, tree)
        for (value, path, type_code), slice_node in zip(checked, assigned, strict=True):
            self._item(run, child, value, path, tree, type_code)
            if slice_node is not None:
                self._item(run, slice_node, value, path, tree, type_code)
            elif type_code == "Extension" and isinstance(value, dict):
                self._extension_by_url(run, child, value, path)

    def _slices(
        self,
        run: _Run,
        base: ElementNode,
        items: list[tuple[Any, str, str]],
        base_path: str,
        tree: ElementTree,
    ) -> list[ElementNode | None]:
        matcher = self._matcher(run, tree)
        assigned: list[ElementNode | None] = []
        counts = {id(s): 0 for s in base.slices}
        closed = base.slicing is not None and base.slicing.rules == "closed"
        for value, path, type_code in items:
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

    def _matcher(self, run: _Run, tree: ElementTree) -> SliceMatcher:
        def node_conforms(node: ElementNode, value: Any, type_code: str) -> bool:
            with run.scratch() as found:
                self._item(run, node, value, "", tree, type_code)
            return not any(f.blocking for f in found)

        def resource_conforms(resource: dict[str, Any], url: str) -> bool | None:
            return self._conforms_to(run, resource, url, strict=False)

        def type_root(url: str) -> ElementNode | None:
            found = self.index.profile(url, run.context)
            return found.tree.root if found else None

        return SliceMatcher(
            self.index,
            node_conforms,
            resource_conforms,
            lambda v: run.resolver.resolve_any(v, run.base_url),
            type_root,
        )

    def _extension_by_url(
        self, run: _Run, node: ElementNode, value: dict[str, Any], path: str
    ) -> None:
        """An extension no slice claims: check it against its own definition when installed."""
        if any(t.profiles for t in node.types):
            return
        url = value.get("url")
        if not isinstance(url, str):
            return
        found = self.index.profile(url, run.context)
        if found is None:
            run.add(
                rules.PROFILE_UNKNOWN,
                rules.INFO,
                f"extension {url} has no StructureDefinition in the installed packages: "
                "its content is not checked",
                path,
            )
            return
        self._item(run, found.tree.root, value, path, found.tree, "Extension")

    def _type_profiles(
        self, run: _Run, profiles: tuple[str, ...], item: dict[str, Any], path: str, type_code: str
    ) -> None:
        found = [p for p in (self.index.profile(u, run.context) for u in profiles) if p]
        if not found:
            run.add(
                rules.PROFILE_UNKNOWN,
                rules.INFO,
                f"type profile {' or '.join(profiles)} is not in the installed packages: "
                "not checked",
                path,
            )
            return
        if len(found) > 1:  # any one of them will do
            for candidate in found:
                with run.scratch() as issues:
                    self._item(run, candidate.tree.root, item, path, candidate.tree, type_code)
                if not any(f.blocking for f in issues):
                    run.findings += issues
                    return
        first = found[0]
        self._item(run, first.tree.root, item, path, first.tree, type_code)

    def _reference_target(
        self, run: _Run, node: ElementNode, item: dict[str, Any], path: str
    ) -> None:
        targets = [p for t in node.types if t.code == "Reference" for p in t.target_profiles]
        if not targets or run.bundle is None:
            return
        target = run.resolver.resolve_any(item, run.base_url)
        if target is None:
            return  # unresolvable references are reported once, by _check_references
        rtype = target.get("resourceType")
        if not isinstance(rtype, str):
            return  # the structure check reports a resource without a proper type
        allowed: dict[str, list[str]] = {}
        for url in targets:
            allowed.setdefault(self._profile_type(url, run.context) or "?", []).append(url)
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
        answers = [self._conforms_to(run, target, u, strict=False) for u in wanted]
        if not any(a is None or a for a in answers):
            run.add(
                rules.REF,
                rules.ERROR,
                f"the referenced {rtype} does not conform to "
                + " or ".join(split_canonical(u)[0] for u in wanted),
                path,
            )

    def _profile_type(self, url: str, context: PackageKey | None) -> str | None:
        plain = split_canonical(url)[0]
        if plain.startswith(BASE_PROFILE):
            return plain[len(BASE_PROFILE) :]
        found = self.index.profile(url, context)
        return found.type if found else None

    # -- conformance, terminology, invariants ---------------------------------------------------

    def _conforms_to(
        self, run: _Run, resource: dict[str, Any], url: str, strict: bool = True
    ) -> bool:
        """Whether a resource of the Bundle conforms to a profile: declared (or declares a
        profile derived from it), else validated aside."""
        key = (id(resource), split_canonical(url)[0])
        if key in run.conformance:
            return run.conformance[key]
        declared = _declared(resource)
        if any(self.index.derives_from(d, url, run.context) for d in declared):
            run.conformance[key] = True
            return True
        found = self.index.profile(url, run.context)
        if found is None:
            if strict:
                raise NotEvaluable(f"profile {url} is not in the installed packages")
            return True  # cannot tell: do not accuse
        run.conformance[key] = True  # a cycle back here assumes conformance
        with run.on_resource(resource), run.scratch() as issues:
            if resource.get("resourceType") == found.type:
                self._item(run, found.tree.root, resource, "", found.tree, found.type)
            else:
                issues.append(rules.finding(rules.TYPE, rules.ERROR, "", "", ""))
        verdict = not any(f.blocking for f in issues)
        run.conformance[key] = verdict
        return verdict

    def _member_of(self, run: _Run, item: Any, url: str) -> bool | None:
        expansion = self.index.expansion(url, run.context)
        if expansion is None:
            return None
        answers = [expansion.contains(s, c) for s, c in _codes(item)]
        if any(a is True for a in answers):
            return True
        if answers and all(a is False for a in answers):
            return False
        return None

    def _binding(self, run: _Run, node: ElementNode, item: Any, path: str, type_code: str) -> None:
        binding = node.binding
        if binding is None or binding.strength not in ("required", "extensible"):
            return
        if type_code in ("string", "uri") and not isinstance(item, str):
            return
        expansion = self.index.expansion(binding.value_set, run.context)
        if expansion is None:
            run.add(
                rules.BINDING,
                rules.INFO,
                f"ValueSet {binding.value_set} is not in the installed packages: "
                f"{binding.strength} binding not checked",
                path,
            )
            return
        codes = _codes(item)
        severity = rules.ERROR if binding.strength == "required" else rules.WARNING
        if not codes:
            if type_code == "CodeableConcept" and binding.strength == "required":
                run.add(
                    rules.BINDING,
                    severity,
                    f"no coding from ValueSet {binding.value_set} (required binding)",
                    path,
                )
            return
        answers = [expansion.contains(system, code) for system, code in codes]
        if any(a is True for a in answers):
            return
        if all(a is False for a in answers):
            shown = ", ".join(f"{s}#{c}" if s else c for s, c in codes)
            run.add(
                rules.BINDING,
                severity,
                f"{shown} is not in ValueSet {binding.value_set} ({binding.strength} binding)",
                path,
            )
            return
        run.add(
            rules.BINDING,
            rules.INFO,
            f"membership in ValueSet {binding.value_set} cannot be decided offline "
            "(filters or code systems not installed): not checked",
            path,
        )

    def _invariants(
        self, run: _Run, node: ElementNode, item: Any, path: str, type_code: str
    ) -> None:
        if type_code not in _UNTYPED and type_code[:1].isupper():
            type_path = type_code
        else:
            type_path = node.path
        for constraint, compiled in invariants_of(node):
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


def _declared(resource: dict[str, Any]) -> list[str]:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


def _spread(raw: Any, path: str, type_code: str) -> list[tuple[Any, str, str]]:
    if isinstance(raw, list):
        return [(v, f"{path}[{i}]", type_code) for i, v in enumerate(raw) if v is not None]
    return [(raw, path, type_code)]


def _codes(item: Any) -> list[tuple[str | None, str]]:
    """(system, code) pairs a coded value carries; a bare code has no system."""
    if isinstance(item, str):
        return [(None, item)]
    if not isinstance(item, dict):
        return []
    if isinstance(item.get("coding"), list):
        return [c for coding in item["coding"] for c in _codes_of_coding(coding)]
    return _codes_of_coding(item)


def _codes_of_coding(coding: Any) -> list[tuple[str | None, str]]:
    if not isinstance(coding, dict) or not isinstance(coding.get("code"), str):
        return []
    system = coding.get("system")
    return [(system if isinstance(system, str) else None, coding["code"])]


def _references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, reference) of every Reference.reference inside a resource, narrative excluded."""
    if isinstance(value, dict):
        reference = value.get("reference")
        if isinstance(reference, str):
            yield f"{path}.reference", reference
        for key, child in value.items():
            if key in ("text", "contained") and path.endswith("resource"):
                continue
            if isinstance(child, dict | list):
                yield from _references(child, f"{path}.{key}")
    elif isinstance(value, list):
        for number, child in enumerate(value):
            yield from _references(child, f"{path}[{number}]")


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 200 else text[:197] + "..."
