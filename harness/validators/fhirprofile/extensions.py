"""Where an extension may be used: StructureDefinition.context (R4: element, extension and
fhirpath contexts) against the element that carries it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Evaluates a FHIRPath context expression on the resource: its results, or None when it
# cannot be evaluated here.
Evaluate = Callable[[str], list[Any] | None]

# Context names that every element, or every resource root, satisfies.
_ANY_ELEMENT = frozenset({"Element", "Base"})
_ANY_RESOURCE = frozenset({"Resource", "DomainResource"})
# R5 names abstract "canonical resources" that R4 lacks; in R4 they are these (a fact of R5's
# CanonicalResource / MetadataResource pages), and extensions written for R5 use the names.
_CANONICAL = frozenset(
    {
        "ActivityDefinition",
        "CapabilityStatement",
        "ChargeItemDefinition",
        "CodeSystem",
        "CompartmentDefinition",
        "ConceptMap",
        "EffectEvidenceSynthesis",
        "EventDefinition",
        "Evidence",
        "EvidenceVariable",
        "ExampleScenario",
        "GraphDefinition",
        "ImplementationGuide",
        "Library",
        "Measure",
        "MessageDefinition",
        "NamingSystem",
        "OperationDefinition",
        "PlanDefinition",
        "Questionnaire",
        "ResearchDefinition",
        "ResearchElementDefinition",
        "RiskEvidenceSynthesis",
        "SearchParameter",
        "StructureDefinition",
        "StructureMap",
        "TerminologyCapabilities",
        "TestScript",
        "ValueSet",
    }
)
_CANONICAL_NAMES = frozenset({"CanonicalResource", "MetadataResource"})
# HL7's own R4 snapshots carry the fhir-type extension on ElementDefinition.type, although its
# definition names ElementDefinition.type.code: what HL7 publishes is not to be accused.
_TOLERATED = {
    "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type": (
        "ElementDefinition.type"
    ),
}
# Specialisations of Quantity keep the type code Quantity in R4 profiles and instances.
_QUANTITY_KINDS = frozenset(
    {"Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
)


@dataclass(frozen=True)
class Owner:
    """The element an extension sits on: its base path, its type and, for an extension inside
    an extension, the outer extension's url."""

    path: str
    type_code: str
    url: str | None = None
    value: Any = field(default=None, compare=False, repr=False)  # the object carrying it

    @property
    def is_resource_root(self) -> bool:
        return "." not in self.path and self.type_code[:1].isupper() and self.path == self.type_code


def context_problem(
    definition: dict[str, Any], owner: Owner, url: str, evaluate: Evaluate
) -> str | None:
    """Why the extension `url` may not be used on `owner`, or None when it may."""
    contexts = definition.get("context")
    if not isinstance(contexts, list) or not contexts:
        return None  # no context declared: nothing to hold it to
    if _TOLERATED.get(url) == owner.path:
        return None
    allowed = []
    for context in contexts:
        if not isinstance(context, dict):
            continue
        kind, expression = str(context.get("type", "")), str(context.get("expression", ""))
        if not expression:
            return None
        if kind == "fhirpath":
            found = evaluate(expression)
            if found is None:
                return None  # cannot be judged here: allow rather than accuse
            if owner.value is not None and any(item == owner.value for item in found):
                return None
        if kind == "element" and _element_matches(expression, owner):
            return None
        if kind == "extension" and owner.url is not None and expression == owner.url:
            return None
        allowed.append(f"{kind} {expression}")
    shown = owner.path if owner.path == owner.type_code else f"{owner.path} ({owner.type_code})"
    return f"extension {url} may not be used on {shown}; its definition allows: " + ", ".join(
        allowed
    )


def _element_matches(expression: str, owner: Owner) -> bool:
    expression = expression.split("#")[-1]  # "url#Path" names an element of a logical model
    if expression in _ANY_ELEMENT:
        return True
    if expression in _ANY_RESOURCE:
        return owner.is_resource_root
    if expression in _CANONICAL_NAMES:
        return owner.is_resource_root and owner.type_code in _CANONICAL
    if expression in (owner.path, owner.type_code):
        return True
    if expression == "Quantity" and owner.type_code in _QUANTITY_KINDS:
        return True
    if "." in expression and "." in owner.path:
        # a datatype path (HumanName.given) reached inside a profile that spells the datatype
        # out (Patient.name.given) keeps only the element name in common; when in doubt the
        # extension is allowed rather than a valid instance accused
        return owner.path.rsplit(".", 1)[1] == expression.rsplit(".", 1)[1]
    return False
