"""Python versions of MedCom and DK-core invariants, for speed: fhirpathpy spends milliseconds on
each of the Bundle-wide ones that every MedCom message meets on every validation.

The table holds the shared ones (MedCom messaging, DK-core); a standard adds the natives of its
own profiles with `register_context_natives` (harness.standards registers them: CareCommunication's
in harness/standards/carecommunication/natives.py). An expression has one owner.

As in natives.py they are keyed by the exact expression text, so a package that changes an
expression is judged by FHIRPath, never by stale code here. Each answers what fhirpathpy answers,
quirks included (its `=` compares only the first items; `!=` on an empty collection is true);
where the input is unusual (walk.Defer) they answer None and fhirpathpy decides.
test_fhirprofile_natives.py compares both on every node of the corpus and of mutated messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from harness.validators.fhirprofile import walk
from harness.validators.fhirprofile.walk import Context, Defer, Json

ContextNative = Callable[[Any, Context], bool | None]

MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
DK_ORGANIZATION_SYSTEMS = frozenset(
    {
        "urn:oid:1.2.208.176.1.1",
        "https://kombit.dk/sts/organisation",
        "urn:oid:2.16.840.1.113883.2.24.1.1",
    }
)
_THIRTEEN_DIGITS = re.compile(r"[0-9]{13}")


def bundle_resources(item: Any, rtype: str, rooted: bool = False) -> list[Json]:
    bundle = walk.rooted(item, "Bundle") if rooted else item
    return walk.of_type(walk.entry_resources(bundle), rtype)


def messaging_2(item: Any, ctx: Context) -> bool | None:
    return bool(bundle_resources(item, "Provenance"))


def is_only(codes: list[str], code: str) -> bool:
    # whether fhirpathpy's `codes = 'x'` is true: one code, equal to x
    return walk.equal_first(codes, [code])


def marital_status(item: Any, ctx: Context) -> bool | None:
    codings = walk.objects(walk.objects([item], "maritalStatus"), "coding")
    pairs = [(walk.strings([c], "code"), walk.strings([c], "system")) for c in codings]

    def used(code: str) -> bool:
        # where(code = 'x' and system = 'y'): `=` is fhirpathpy's, false on empty
        return any(is_only(c, code) and is_only(s, MARITAL) for c, s in pairs)

    return not used("P") or not used("A")


def org_1(item: Any, ctx: Context) -> bool | None:
    identifiers, names = walk.children([item], "identifier"), walk.children([item], "name")
    return len(identifiers) + len(names) > 0


def dk_organization_identifier(item: Any, ctx: Context) -> bool | None:
    systems = [walk.strings([i], "system") for i in walk.objects([item], "identifier")]
    return any(is_only(s, wanted) for s in systems for wanted in DK_ORGANIZATION_SYSTEMS)


def gln_modulus_10(item: Any, ctx: Context) -> bool | None:
    # GS1 check digit: weights 1,3,1,3...; ((10 - sum) mod 10) mod 10 with floor modulo
    if not isinstance(item, str) or not _THIRTEEN_DIGITS.fullmatch(item):
        return None
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(item[:12]))
    return (10 - total) % 10 == int(item[12])


GLN_MODULUS_10 = (
    "((\n(10-((substring(0,1).toInteger()*1)+\n(substring(1,1).toInteger()*3)+\n"
    "(substring(2,1).toInteger()*1)+\n(substring(3,1).toInteger()*3)+\n"
    "(substring(4,1).toInteger()*1)\n+(substring(5,1).toInteger()*3)\n"
    "+(substring(6,1).toInteger()*1)\n+(substring(7,1).toInteger()*3)\n"
    "+(substring(8,1).toInteger()*1)\n+(substring(9,1).toInteger()*3)\n"
    "+(substring(10,1).toInteger()*1)\n+(substring(11,1).toInteger()*3))mod(10))mod(10))"
    "=substring(12,1).toInteger())"
)

CONTEXT_NATIVE: dict[str, ContextNative] = {
    "entry.resource.ofType(Provenance).exists()": messaging_2,
    "maritalStatus.coding.where(code = 'P' and system = '" + MARITAL + "').empty() or "
    "maritalStatus.coding.where(code = 'A' and system = '" + MARITAL + "').empty()": marital_status,
    "(identifier.count() + name.count()) > 0": org_1,
    "identifier.where(system='urn:oid:1.2.208.176.1.1' or system='https://kombit.dk/sts/"
    "organisation' or system='urn:oid:2.16.840.1.113883.2.24.1.1').exists()": (
        dk_organization_identifier
    ),
    GLN_MODULUS_10: gln_modulus_10,
}
# expression -> the standard that registered its native ("" = this module's shared ones)
_OWNERS: dict[str, str] = dict.fromkeys(CONTEXT_NATIVE, "")


class NativeError(ValueError):
    """A native invariant's expression was claimed twice."""


def register_context_natives(owner: str, table: Mapping[str, ContextNative]) -> None:
    """Add a standard's natives, keyed by the exact expression text of its profiles."""
    for expression in table:
        known = _OWNERS.get(expression)
        if known is not None:
            first = f"standard {known!r}" if known else "the shared MedCom natives"
            raise NativeError(
                f"native invariant {expression[:60]!r} is claimed by both {first} and "
                f"standard {owner!r}"
            )
    for expression, native in table.items():
        CONTEXT_NATIVE[expression] = native
        _OWNERS[expression] = owner


def native_owner(expression: str) -> str | None:
    """The standard whose native answers `expression`, "" for a shared one, None for none."""
    return _OWNERS.get(expression)


def _deferring(native: ContextNative) -> ContextNative:
    def run(item: Any, ctx: Context) -> bool | None:
        try:
            return native(item, ctx)
        except Defer:
            return None

    run.__name__ = native.__name__
    return run


def context_native_for(expression: str) -> ContextNative | None:
    native = CONTEXT_NATIVE.get(expression)
    return _deferring(native) if native is not None else None
