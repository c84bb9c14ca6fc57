"""Validate FHIR resources (usually MedCom message Bundles) against the FHIR base definitions and
the profiles of one validation context."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from harness.fhir.resource import structure_issues
from harness.model.finding import Finding
from harness.validators.api import ContextArg, ValidatorContext, as_context
from harness.validators.fhirprofile import rules
from harness.validators.fhirprofile.bindings import member_of
from harness.validators.fhirprofile.bundles import bundle_issues, element_id_issues
from harness.validators.fhirprofile.contexts import ValidationContext
from harness.validators.fhirprofile.elements import ElementNode
from harness.validators.fhirprofile.index import PackageKey, Profile, ProfileIndex, split_canonical
from harness.validators.fhirprofile.invariants import (
    NotEvaluable,
    Scope,
    enter_scope,
    leave_scope,
)
from harness.validators.fhirprofile.operations import operation_issues
from harness.validators.fhirprofile.references import BundleResolver
from harness.validators.fhirprofile.run import Run
from harness.validators.fhirprofile.vitalsigns import required_profiles
from harness.validators.fhirprofile.walker import BASE_PROFILE, Walker


class ProfileValidator(Walker):
    """Thread-compatible: all per-call state lives in a Run; the index is shared.

    Args:
        index: the installed packages.
        check_structure: when the context has no FHIR base package, check the R4B model's
            structure instead (kcert's built-in fallback); with the base package every element
            is checked against the official definitions anyway.
        allow_examples: let unknown extensions on example domains (example.org) be, as the
            reference validator does for the specification's examples; off for a SUT.
    """

    def __init__(
        self, index: ProfileIndex, *, check_structure: bool = True, allow_examples: bool = False
    ) -> None:
        super().__init__(index, allow_examples)
        self.check_structure = check_structure

    # -- public ----------------------------------------------------------------------------------

    def iter_findings(
        self, document: dict[str, Any], context: ContextArg = None
    ) -> Iterator[Finding]:
        """Findings for `document` (a resource and, for a Bundle, every entry) against the base
        definitions and its profiles: the declared meta.profile ones, or `context.profile` for
        the top-level resource.

        The validation context is `context.package` (name, version) when given; else the
        package that defines the first profile the resource (or, for a Bundle, an entry)
        declares; else the FHIR base definitions alone. Every canonical resolves inside that
        context only. The context used goes to `context.fhir_context`, the checks that could
        not run to `context.not_run`."""
        context = as_context(context)
        used = self._judge(document, context)
        context.fhir_context = used[1]
        for note in used[2]:
            context.note_not_run(note)
        yield from used[0]

    def _judge(
        self, resource: dict[str, Any], asked: ValidatorContext
    ) -> tuple[list[Finding], ValidationContext, list[str]]:
        evidence, profile, package = asked.evidence, asked.profile, asked.package
        lines = asked.lines
        context = self.choose_context(resource, profile, package)
        bundle = resource if resource.get("resourceType") == "Bundle" else None
        run = Run(
            evidence, bundle, BundleResolver(bundle), context, lines=dict(lines or {}), top=resource
        )
        if not context.has_core:
            run.not_run.setdefault(
                "datatype and base-element checks: not run: pack missing (hl7.fhir.r4.core "
                "4.0.1, the FHIR R4 base definitions)"
                + (
                    "; kcert's built-in R4B structure check ran instead"
                    if self.check_structure
                    else ""
                ),
                None,
            )
        for gap in context.missing:
            if gap.name == "hl7.fhir.r4.core":
                continue  # said above
            run.not_run.setdefault(f"context {context.label}: pack missing ({gap})", None)
        token = enter_scope(
            Scope(
                run.resolver,
                lambda r, url: self.conforms_to(run, r, url),
                lambda item, url: member_of(self.index, run, item, url),
                lambda: run.base_url,
            )
        )
        try:
            if self.check_structure and not context.has_core:
                for issue in structure_issues(resource):
                    run.add(rules.STRUCTURE, rules.ERROR, issue.message, issue.path)
            rtype = str(resource.get("resourceType", ""))
            with run.on_resource(resource):
                urls = [profile] if profile else _declared(resource)
                if not urls:
                    run.add(
                        rules.PROFILE_UNKNOWN,
                        rules.INFO,
                        f"{rtype} declares no meta.profile and none was given: base checks only",
                        rtype,
                    )
                self.resource(run, resource, rtype, urls)
            for duplicate in element_id_issues(resource, rtype):
                run.add(rules.STRUCTURE, rules.ERROR, duplicate.message, duplicate.path)
            if bundle is not None:
                self._check_bundle_references(run, bundle)
                known = lambda code: self.is_resource_type(run, code)  # noqa: E731
                for rule in bundle_issues(bundle, "Bundle", run.resolver, known):
                    run.add(
                        rules.BUNDLE,
                        rules.ERROR if rule.error else rules.WARNING,
                        rule.message,
                        rule.path,
                    )
        except (TypeError, AttributeError, KeyError, ValueError, IndexError, RecursionError) as exc:
            # A hostile or broken shape (a list where a string belongs) that slipped past the
            # structure checks: a finding about the resource, never a crash of the judge.
            run.add(
                rules.SHAPE,
                rules.ERROR,
                f"the resource has a shape the profile validator cannot read "
                f"({type(exc).__name__}: {exc})",
                "",
            )
        finally:
            leave_scope(token)
        return run.result(), context, list(run.not_run)

    def choose_context(
        self,
        resource: dict[str, Any],
        profile: str | None = None,
        package: PackageKey | ValidationContext | None = None,
    ) -> ValidationContext:
        if isinstance(package, ValidationContext):
            return package
        if package is not None:
            return self.index.context(package)
        for url in _context_profiles(resource, profile):
            defining = self.index.defining(url)
            if defining:
                return self.index.context(defining[0])
        return self.index.context(None)

    # -- resources -------------------------------------------------------------------------------

    def resource(self, run: Run, resource: dict[str, Any], path: str, urls: list[str]) -> None:
        """One resource against its base definition and the given profiles; the base walk is
        left out when a profile derived from it covers the same ground."""
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            run.add(rules.STRUCTURE, rules.ERROR, "a resource without a resourceType", path)
            return
        urls = list(urls)
        if rtype == "Observation" and run.context.has_core:
            for url, code in required_profiles(resource):
                if url not in urls:
                    urls.append(url)
                    run.add(
                        rules.PROFILE_UNKNOWN,
                        rules.INFO,
                        f"validated against {url} as well: FHIR requires it of an "
                        f"Observation with the code {code}",
                        path,
                    )
        usable: list[Profile] = []
        for url in dict.fromkeys(urls):
            found = self._profile_or_report(run, url, path)
            if found is None:
                continue
            if found.type != rtype:
                run.add(
                    rules.TYPE,
                    rules.ERROR,
                    f"profile {found.url} is for {found.type}, found a {rtype}",
                    path,
                )
                continue
            usable.append(found)
        base_url = BASE_PROFILE + rtype
        covered = any(self.index.derives_from(p.url, base_url, run.context) for p in usable)
        if not covered and run.context.has_core:
            base = self.index.profile(base_url, run.context)
            if base is None:
                run.add(rules.STRUCTURE, rules.ERROR, f"{rtype!r} is not a FHIR R4 resource", path)
                return
            usable.insert(0, base)
        if not usable and not run.context.has_core:
            # nothing walks this resource, so nothing would reach the resources inside it:
            # without the base definitions, go to them directly
            self._inner_resources(run, resource, path)
            return
        if rtype == "StructureDefinition":
            self._definition_expands(run, resource, path)
        elif rtype == "OperationDefinition":

            def root(url: str) -> ElementNode | None:
                found = self.index.profile(url, run.context)
                return found.tree.root if found is not None else None

            for issue in operation_issues(resource, root):
                run.add(
                    rules.OPERATION,
                    rules.ERROR if issue.error else rules.WARNING,
                    issue.message,
                    issue.path,
                )
        for found in usable:
            key = (id(resource), found.url)
            if key in run.done:
                continue
            run.done.add(key)
            self.item(run, found.tree.root, resource, path, found.tree, found.type)

    def nested_resource(
        self, run: Run, node: ElementNode, value: dict[str, Any], path: str
    ) -> None:
        """A resource inside another (contained, a Bundle entry, a Parameters value): its own
        base definition and declared profiles, and the type profiles the element names."""
        kinds = {t.code for t in node.types}
        rtype = value.get("resourceType")
        if "Resource" not in kinds and isinstance(rtype, str) and rtype not in kinds:
            run.add(
                rules.TYPE,
                rules.ERROR,
                f"{node.path} holds a {rtype}; allowed: {', '.join(sorted(kinds))}",
                path,
            )
            return
        wanted = [p for t in node.types if t.code in ("Resource", rtype) for p in t.profiles]
        with run.on_resource(value):
            self.resource(run, value, path, wanted + _declared(value))

    def _definition_expands(self, run: Run, sd: dict[str, Any], path: str) -> None:
        """A profile under validation must have a snapshot its differential can make: one that
        cannot be made is a defect of the profile, as the reference validator reports it."""
        if sd.get("derivation") != "constraint" or not (sd.get("differential") or {}).get(
            "element"
        ):
            return
        from harness.validators.fhirprofile.snapshot import SnapshotError, generate_snapshot

        base = str(sd.get("baseDefinition", ""))
        if not base or base == sd.get("url") or self.index.profile(base, run.context) is None:
            run.add(
                rules.SNAPSHOT,
                rules.WARNING,
                f"the base {base or '(none)'} cannot be found, so the differential is not checked",
                path,
            )
            return

        def resolve(url: str) -> dict[str, Any] | None:
            found = self.index.profile(url, run.context)
            return found.resource if found is not None else None

        self._type_profiles_fit(run, sd, path)
        try:
            generate_snapshot(sd, resolve)
        except SnapshotError as exc:
            run.add(rules.SNAPSHOT, rules.ERROR, f"the snapshot cannot be generated: {exc}", path)
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            run.add(
                rules.SNAPSHOT,
                rules.ERROR,
                f"the snapshot cannot be generated ({type(exc).__name__}: {exc})",
                path,
            )

    def _type_profiles_fit(self, run: Run, sd: dict[str, Any], path: str) -> None:
        """A type profile in a differential must be a profile of that type."""
        elements = (sd.get("differential") or {}).get("element") or []
        for number, element in enumerate(elements if isinstance(elements, list) else []):
            types = element.get("type") if isinstance(element, dict) else None
            for t_number, type_ref in enumerate(types if isinstance(types, list) else []):
                if not isinstance(type_ref, dict):
                    continue
                code = type_ref.get("code")
                profiles = type_ref.get("profile")
                for p_number, url in enumerate(profiles if isinstance(profiles, list) else []):
                    found = self.index.profile(str(url), run.context)
                    if found is None or not isinstance(code, str) or found.type == code:
                        continue
                    if code in ("Resource", "DomainResource") and found.kind == "resource":
                        continue  # any resource's profile fits an element of any resource
                    run.add(
                        rules.SNAPSHOT,
                        rules.ERROR,
                        f"type profile {url} is a profile of {found.type}, but "
                        f"{element.get('path')} is a {code}",
                        f"{path}.differential.element[{number}].type[{t_number}]"
                        f".profile[{p_number}]",
                    )

    def _inner_resources(self, run: Run, resource: dict[str, Any], path: str) -> None:
        inner: list[tuple[Any, str]] = []
        contained = resource.get("contained")
        if isinstance(contained, list):
            inner += [(c, f"{path}.contained[{n}]") for n, c in enumerate(contained)]
        entries = resource.get("entry") if resource.get("resourceType") == "Bundle" else None
        if isinstance(entries, list):
            inner += [
                (e.get("resource"), f"{path}.entry[{n}].resource")
                for n, e in enumerate(entries)
                if isinstance(e, dict)
            ]
        for value, where in inner:
            if isinstance(value, dict):
                with run.on_resource(value):
                    self.resource(run, value, where, _declared(value))

    def _profile_or_report(self, run: Run, url: str, path: str) -> Profile | None:
        found = self.index.profile(url, run.context)
        if found is not None:
            return found
        unusable = self.index.unusable(url, run.context)
        if unusable is not None:
            run.skip(f"profile {url}: not run: {unusable}", path)
            return None
        reason, gap = self.index.why_missing(url, run.context)
        if gap:
            run.skip(f"profile {url}: {reason}", path)
            return None
        # As the reference validator has it, a declared profile that cannot be found is not
        # checked and that is a warning. kcert is stricter in one place: a canonical in the
        # namespace of a package of the context (a MedCom profile name with a typo) names
        # nothing that package defines, which is a defect of the instance.
        own = any(
            url.startswith(self.index.packages[key].canonical + "/")
            for key in run.context.members
            if self.index.packages[key].canonical and key[0] != "hl7.fhir.r4.core"
        )
        run.add(
            rules.PROFILE_UNKNOWN,
            rules.ERROR if own else rules.WARNING,
            f"profile {url} has not been checked: {reason}"
            + (
                " (a canonical of the context's own packages: wrong name or version?)"
                if own
                else ""
            ),
            path,
        )
        return None

    def _check_bundle_references(self, run: Run, bundle: dict[str, Any]) -> None:
        entries = bundle.get("entry")
        for number, entry in enumerate(entries if isinstance(entries, list) else []):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(inner, dict):
                continue
            with run.on_resource(inner):
                self._check_references(run, inner, f"Bundle.entry[{number}].resource")

    def _check_references(self, run: Run, resource: dict[str, Any], path: str) -> None:
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
            namesakes = run.resolver.same_type_id(reference)
            if namesakes:
                # in a document or message every reference must resolve; elsewhere the
                # namesake is only a likely mix-up
                strict = run.bundle is not None and run.bundle.get("type") in (
                    "document",
                    "message",
                )
                run.add(
                    rules.REF,
                    rules.ERROR if strict else rules.WARNING,
                    f"cannot find {reference!r} in the Bundle: {', '.join(namesakes)} has that "
                    "type and id, but the fullUrl rules (bundle.html) do not let the reference "
                    f"resolve to it from {run.base_url or 'an entry without fullUrl'}",
                    ref_path,
                )
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

    # -- conformance -----------------------------------------------------------------------------

    def conforms_to(
        self, run: Run, resource: dict[str, Any], url: str, strict: bool = True
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
                raise NotEvaluable(f"profile {url} is not in the context {run.context.label}")
            return True  # cannot tell: do not accuse
        run.conformance[key] = True  # a cycle back here assumes conformance
        with run.on_resource(resource), run.scratch() as issues:
            if resource.get("resourceType") == found.type:
                self.item(run, found.tree.root, resource, "", found.tree, found.type)
            else:
                issues.append(rules.finding(rules.TYPE, rules.ERROR, "", "", ""))
        verdict = not any(f.blocking for f in issues)
        run.conformance[key] = verdict
        return verdict


def _declared(resource: dict[str, Any]) -> list[str]:
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    return [p for p in profiles if isinstance(p, str)] if isinstance(profiles, list) else []


def _context_profiles(resource: dict[str, Any], profile: str | None) -> Iterator[str]:
    """The profiles that may say which package a resource belongs to, in order of authority."""
    if profile:
        yield profile
    yield from _declared(resource)
    if resource.get("resourceType") == "Bundle":
        entries = resource.get("entry")
        for entry in entries if isinstance(entries, list) else []:
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict):
                yield from _declared(inner)


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
