"""Where an extension may be used: StructureDefinition.context (R4: element, extension and
fhirpath contexts) against the element that carries it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Context names that every element, or every resource root, satisfies.
_ANY_ELEMENT = frozenset({"Element", "Base"})
_ANY_RESOURCE = frozenset({"Resource", "DomainResource"})
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

    @property
    def is_resource_root(self) -> bool:
        return "." not in self.path and self.type_code[:1].isupper() and self.path == self.type_code


def context_problem(definition: dict[str, Any], owner: Owner, url: str) -> str | None:
    """Why the extension `url` may not be used on `owner`, or None when it may."""
    contexts = definition.get("context")
    if not isinstance(contexts, list) or not contexts:
        return None  # no context declared: nothing to hold it to
    allowed = []
    for context in contexts:
        if not isinstance(context, dict):
            continue
        kind, expression = str(context.get("type", "")), str(context.get("expression", ""))
        if kind == "fhirpath" or not expression:
            return None  # a FHIRPath context cannot be judged here: allow, as unknown
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
