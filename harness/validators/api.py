"""The one shape every validator has: `iter_findings(document, context) -> Iterator[Finding]`.

A validator is built once over its packs (a compiled schema, a schematron pack, a FHIR profile
index) and then judges many documents. What it needs to know about one document besides the
document itself, and what it has to say besides findings, travels in a `ValidatorContext` (a
plain string stands for a context with only that evidence name):

- in: the evidence name findings are located in, and per-kind choices (the FHIR profile and
  validation context to judge in, the line map of a FHIR resource, the folder a schematron
  resolves subordinate documents against, the document kind for the dispatcher);
- out, filled while the findings are iterated and complete once the iterator is exhausted:
  the checks that did not run and why (`not_run`), the FHIR validation context the resource
  was judged in (`fhir_context`), required pack kinds that are not installed (`missing`) and
  the packs that judged the document (`packs`).

Notes stay out of the finding stream on purpose: callers word them differently (`kcert validate`
prints "not run: ...", the checks turn them into PACK-MISSING / FHIR-CONTEXT findings of the
exchange), and a note is not something the document did wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from harness.model.finding import Finding
from harness.packs.store import Pack

if TYPE_CHECKING:  # the FHIR validator imports this module
    from harness.validators.fhirprofile.contexts import ValidationContext
    from harness.validators.fhirprofile.index import PackageKey

Document = TypeVar("Document", contravariant=True)


@dataclass
class ValidatorContext:
    """One document's inputs besides the document, and the validator's notes about it."""

    evidence: str = ""  # the name findings' locations carry (a file or evidence name)
    # FHIR: the profile for the top-level resource (None: the ones it declares) ...
    profile: str | None = None
    # ... the validation context: a package (name, version), a context, or None (the package
    # that defines the resource's profile decides)
    package: PackageKey | ValidationContext | None = None
    lines: Mapping[str, int] | None = None  # FHIR: source line of each element path
    base: Path | None = None  # Schematron: the folder subordinate documents resolve against
    kind: str | None = None  # the document dispatcher: "cda", "fhir", "oioxml"; None: detect

    # -- out: what the validator says besides findings ------------------------------------------
    not_run: list[str] = field(default_factory=list)  # checks skipped, each with the reason
    fhir_context: ValidationContext | None = None  # the FHIR validation context judged in
    missing: list[str] = field(default_factory=list)  # required pack kinds not installed
    packs: list[Pack] = field(default_factory=list)  # the packs that judged the document

    def note_not_run(self, note: str) -> None:
        if note not in self.not_run:
            self.not_run.append(note)

    def used(self, pack: Pack) -> None:
        if all((p.id, p.version) != (pack.id, pack.version) for p in self.packs):
            self.packs.append(pack)


# What a validator accepts as its context: the context; an evidence name alone (shorthand for
# ValidatorContext(evidence=name), when a caller needs neither choices nor notes); None, a
# fresh default context.
ContextArg = ValidatorContext | str | None


def as_context(context: ContextArg) -> ValidatorContext:
    """The context a validator works with (see ContextArg)."""
    if isinstance(context, ValidatorContext):
        return context
    return ValidatorContext(context or "")


class Validator(Protocol[Document]):
    """What every validator offers (see ContextArg for `context`)."""

    def iter_findings(
        self, document: Document, context: ContextArg = None
    ) -> Iterator[Finding]: ...


__all__ = ["ContextArg", "Validator", "ValidatorContext", "as_context"]
