"""Terminology bindings: is a coded value in the bound ValueSet, as far as that can be decided
offline from the ValueSets and CodeSystems of the validation context."""

from __future__ import annotations

from typing import Any

from harness.validators.fhirprofile import rules
from harness.validators.fhirprofile.elements import ElementNode
from harness.validators.fhirprofile.index import ProfileIndex
from harness.validators.fhirprofile.run import Run

CODED = frozenset({"code", "Coding", "CodeableConcept", "Quantity", "string", "uri"})
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
# R4's vital signs profiles bind every component value (strings and booleans too) to the UCUM
# units as 'required', which no component that is not a Quantity can meet; the reference
# validator holds it as extensible, and so does kcert.
R4_ERRATA_EXTENSIBLE = frozenset({"http://hl7.org/fhir/ValueSet/ucum-vitals-common|4.0.1"})


def check_binding(
    index: ProfileIndex, run: Run, node: ElementNode, item: Any, path: str, type_code: str
) -> None:
    """Findings for a required or extensible binding on one coded value."""
    binding = node.binding
    if binding is None or binding.strength not in ("required", "extensible"):
        return
    if type_code in ("string", "uri") and not isinstance(item, str):
        return
    codes = codes_of(item)
    required = binding.strength == "required" and binding.value_set not in R4_ERRATA_EXTENSIBLE
    if not codes and type_code == "CodeableConcept" and required:
        # a required binding is met by a code from the ValueSet: text alone, or a
        # data-absent-reason extension, does not carry one
        absent = " (it carries only a data-absent-reason extension)" if _absent(item) else ""
        run.add(
            rules.BINDING,
            rules.ERROR,
            f"no coding from ValueSet {binding.value_set} (required binding){absent}",
            path,
        )
        return
    if not codes:
        return
    expansion = index.expansion(binding.value_set, run.context)
    if expansion is None:
        reason, gap = index.why_missing(binding.value_set, run.context)
        if gap:
            run.skip(f"{binding.strength} binding to {binding.value_set}: {reason}", path)
        else:
            run.add(
                rules.BINDING,
                rules.INFO,
                f"ValueSet {binding.value_set} is not in the context: {binding.strength} "
                f"binding not checked ({reason})",
                path,
            )
        return
    severity = rules.ERROR if required else rules.WARNING
    answers = [expansion.contains(system, code) for system, code in codes]
    if any(a is True for a in answers):
        return
    if all(a is False for a in answers):
        shown = ", ".join(f"{s}#{c}" if s else c for s, c in codes)
        run.add(
            rules.BINDING,
            severity,
            f"{shown} is not in ValueSet {binding.value_set} "
            f"({'required' if required else 'extensible'} binding)",
            path,
        )
        return
    run.skip(
        f"{binding.strength} binding to {binding.value_set}: not run: membership cannot be "
        "decided offline (filters, or code systems that are not installed)",
        path,
        rules.BINDING,
    )


def member_of(index: ProfileIndex, run: Run, item: Any, url: str) -> bool | None:
    """memberOf() for FHIRPath: True/False when decidable offline, else None."""
    expansion = index.expansion(url, run.context)
    if expansion is None:
        return None
    answers = [expansion.contains(s, c) for s, c in codes_of(item)]
    if any(a is True for a in answers):
        return True
    if answers and all(a is False for a in answers):
        return False
    return None


def _absent(item: Any) -> bool:
    extensions = item.get("extension") if isinstance(item, dict) else None
    return isinstance(extensions, list) and any(
        isinstance(e, dict) and e.get("url") == DATA_ABSENT for e in extensions
    )


def codes_of(item: Any) -> list[tuple[str | None, str]]:
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
