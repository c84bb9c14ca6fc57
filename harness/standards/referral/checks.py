"""The OIOXML referral (REF01) the SUT sent: the installed schema, the parties' GLNs (with their
GS1 check digit), the patient, the reason and the package's diagnosis."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from harness.checks.registry import CHECKS, DELIVERY, CheckContext
from harness.checks.sendside import at, inbound, nothing_arrived
from harness.model.finding import Finding
from harness.packs.store import PackStore
from harness.safeparse import PayloadError, parse_xml
from harness.standards.referral.gs1 import valid_gln

OIOXML = "{http://rep.oio.dk/sundcom.dk/medcom.dk/xml/schemas/2005/08/07/}"


@lru_cache(maxsize=4)
def _oioxml_schemas(pack_hash: str) -> Any:
    from harness.validators.oioxml import OioxmlSchemas

    pack = next(p for p in PackStore().of_kind("oioxml-schema") if p.sha256 == pack_hash)
    return OioxmlSchemas(pack)


def _x(root: Any, path: str) -> str:
    found = root.find(path.replace("m:", OIOXML))
    return (found.text or "").strip() if found is not None else ""


@CHECKS.register(
    "sent-referral",
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["diagnosis"],
        "properties": {"diagnosis": {"type": "string", "pattern": "^D[A-Z][0-9]{1,4}$"}},
    },
)
def sent_referral(ctx: CheckContext, **params: Any) -> Iterator[Finding]:
    """The referral (OIOXML REF01): valid against the installed schema, about the patient,
    from the SUT to the municipality (GLN with GS1 check digit), with a reason and the
    package's diagnosis."""
    yield from nothing_arrived(ctx)
    for exchange in inbound(ctx)[:1]:
        try:
            root = parse_xml(exchange.request_body)
        except PayloadError as exc:
            found = at(
                ctx, exchange, "REF-PARSE", f"the referral is not usable XML: {exc}", "", "http"
            )
            yield ctx.root(found, DELIVERY)
            continue
        packs = PackStore().of_kind("oioxml-schema")
        if packs:
            for f in _oioxml_schemas(packs[-1].sha256).iter_findings(
                root, exchange.evidence.get("R", "")
            ):
                yield Finding(f.rule_id, ctx.severity, f.message, f.location, ctx.step_id)
        else:
            yield ctx.pack_missing(exchange, "oioxml-schema", "OIOXML schema validation")
        letter = "m:HospitalReferral/"
        checks = [
            (
                "REF-PATIENT",
                letter + "m:Patient/m:CivilRegistrationNumber",
                ctx.person.get("cpr", ""),
                "the patient's CPR",
            ),
            (
                "REF-SENDER",
                letter + "m:Sender/m:EANIdentifier",
                ctx.sut_identity.get("gln", ""),
                "the SUT's GLN",
            ),
            (
                "REF-RECEIVER",
                letter + "m:Receiver/m:EANIdentifier",
                str(ctx.peer_identity.get("gln", "")),
                "the municipality's GLN",
            ),
        ]
        for rule, path, wanted, what in checks:
            got = _x(root, path)
            if got != wanted:
                yield at(
                    ctx,
                    exchange,
                    rule,
                    f"{path.replace('m:', '')} is {got!r}, not {what}",
                    "/Emessage/" + path.replace("m:", ""),
                    "xpath",
                )
            if rule != "REF-PATIENT" and got and not valid_gln(got):
                yield at(
                    ctx,
                    exchange,
                    "REF-GLN-CHECK",
                    f"{got} is not a GLN: wrong GS1 check digit",
                    "/Emessage/" + path.replace("m:", ""),
                    "xpath",
                )
        if not _x(root, letter + "m:AdditionalInformation/m:ClinicalReason"):
            yield at(
                ctx,
                exchange,
                "REF-REASON",
                "the referral gives no clinical reason",
                "/Emessage/HospitalReferral/AdditionalInformation/ClinicalReason",
                "xpath",
            )
        code = _x(root, letter + "m:Referral/m:Refer/m:DiagnoseCode")
        if not code.startswith(params["diagnosis"]):
            yield at(
                ctx,
                exchange,
                "REF-DIAGNOSIS",
                f"diagnosis {code!r} does not fit the package ({params['diagnosis']}…)",
                "/Emessage/HospitalReferral/Referral/Refer/DiagnoseCode",
                "xpath",
            )
