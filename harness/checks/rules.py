"""The rule catalogue: what each rule id means, in Danish and English, for reports."""

from __future__ import annotations

from collections.abc import Mapping

from harness.model.i18n import Text

# kcert's generic rule ids (HTTP, FHIR, the agent, the run); each standard adds its own through
# `register_rules` (harness.standards registers them), so RULES holds every id once all are in.
RULES: dict[str, Text] = {
    "HTTP-STATUS": Text("Uventet HTTP-statuskode", "Unexpected HTTP status code"),
    "HTTP-5XX": Text(
        "Serverfejl (5xx) i stedet for et 4xx-svar, der forklarer problemet",
        "Server error (5xx) instead of a 4xx answer explaining the problem",
    ),
    "HTTP-CONTENT-TYPE": Text("Forkert Content-Type for FHIR", "Wrong Content-Type for FHIR"),
    "EVIDENCE-BUDGET": Text(
        "SUT'en sendte mere, end kørslens bevisbudget rummer",
        "The SUT sent more than the run's evidence budget holds",
    ),
    "HTTP-TOO-LARGE": Text(
        "Svaret overskred størrelsesgrænsen", "The answer exceeded the size cap"
    ),
    "FHIR-PARSE": Text(
        "Svaret kan ikke læses som en FHIR-ressource", "The answer is not a readable FHIR resource"
    ),
    "FHIR-TYPE": Text("Forkert FHIR-ressourcetype", "Wrong FHIR resource type"),
    "FHIR-STRUCTURE": Text(
        "FHIR-strukturfejl (type, obligatorisk element, ukendt element)",
        "FHIR structure error (type, required element, unknown element)",
    ),
    "OO-MISSING": Text("OperationOutcome mangler", "OperationOutcome missing"),
    "OO-SEVERITY": Text(
        "OperationOutcome uden fejl af alvorlighed error/fatal",
        "OperationOutcome without an error or fatal issue",
    ),
    "OO-MENTIONS": Text(
        "OperationOutcome nævner ikke problemet", "OperationOutcome does not name the problem"
    ),
    "FHIRPATH": Text("FHIRPath-betingelse ikke opfyldt", "FHIRPath condition not met"),
    "AGENT-HTTP": Text("Testagenten svarede med en fejl", "The test agent answered with an error"),
    "AGENT-FORMAT": Text(
        "Testagentens svar følger ikke LPS-testagent-API'et",
        "The test agent's answer does not follow the LPS test agent API",
    ),
    "AGENT-COUNT": Text(
        "Meddelelsen er ikke gemt det forventede antal gange",
        "The message was not stored the expected number of times",
    ),
    "AGENT-FIELD": Text(
        "Den gemte meddelelse har forkert indhold", "The stored message has wrong content"
    ),
    "CONTRACT-STATUS": Text(
        "Forkert HTTP-status for en afvist forespørgsel", "Wrong HTTP status for a refused request"
    ),
    "CONTRACT-PROBLEM": Text(
        "Afvisningen er ikke et problemdokument", "The refusal is not a problem document"
    ),
    "CONTRACT-FUZZ": Text(
        "Genereret forespørgsel gav 5xx eller et svar uden for kontrakten",
        "A generated request got a 5xx or an answer outside the contract",
    ),
    "SEND-NOTHING": Text("SUT sendte intet til modtageren", "The SUT sent nothing to the receiver"),
    "SEND-COUNT": Text(
        "SUT sendte et andet antal meddelelser end forventet",
        "The SUT sent another number of messages than expected",
    ),
    "SEND-PARSE": Text(
        "Den afsendte meddelelse kan ikke læses som FHIR",
        "The sent message cannot be read as FHIR",
    ),
    "SEND-SENDER": Text(
        "Afsenderen er ikke SUT's organisation", "The sender is not the SUT's organisation"
    ),
    "SEND-DESTINATION": Text(
        "Modtageradressen (SOR) er ikke modtagerens", "The destination is not the receiver's SOR"
    ),
    "SEND-PATIENT": Text(
        "Meddelelsen handler ikke om testpatienten", "The message is not about the test patient"
    ),
    "SEND-RESENT": Text(
        "En afvist meddelelse (fatal-error) blev sendt igen",
        "A refused message (fatal-error) was sent again",
    ),
    "SEND-NO-RESEND": Text(
        "Meddelelsen uden kvittering blev ikke gensendt",
        "The unacknowledged message was not resent",
    ),
    "SEND-RESEND-ID": Text(
        "Gensendelsen har et andet MessageHeader.id",
        "The resend has another MessageHeader.id",
    ),
    "SEND-STATUS": Text(
        "Udbakkens status svarer ikke til kvitteringen",
        "The outbox status does not match the acknowledgement",
    ),
    "SEND-NOT-SHOWN": Text(
        "Afvisningen vises ikke for brugeren", "The refusal is not shown to the user"
    ),
    "SEND-SHOWN": Text(
        "Brugeren får vist en fejl ved en accepteret meddelelse",
        "The user is shown a problem for an accepted message",
    ),
    "KCERT-FHIRPATH": Text(
        "kcert kunne ikke evaluere en FHIRPath-regel (ikke en fejl i SUT)",
        "kcert could not evaluate a FHIRPath rule (not a fault of the SUT)",
    ),
    "FHIR-CONTEXT": Text(
        "Valideringskonteksten: pakken og dens afhængigheder",
        "The validation context: the package and its dependencies",
    ),
    "FHIR-WARNING": Text(
        "Bemærkning fra profilvalideringen (en advarsel, ikke en fejl)",
        "A remark of the profile validation (a warning, not an error)",
    ),
    "FHIR-NOT-RUN": Text(
        "Ikke kørt: det, der skulle til, findes ikke i konteksten",
        "Not run: what it needs is not in the context",
    ),
    "FHIR-UNKNOWN-ELEMENT": Text(
        "Et element, som FHIR-definitionen ikke kender", "An element the FHIR definition lacks"
    ),
    "FHIR-VALUE": Text("En ugyldig FHIR-værdi", "An invalid FHIR value"),
    "FHIR-EXTENSION": Text(
        "En extension er ukendt eller brugt et sted, den ikke må",
        "An extension is unknown or used where it may not be",
    ),
    "FHIR-BUNDLE": Text(
        "Bundlen overholder ikke FHIR's regler for bundles",
        "The Bundle breaks FHIR's rules for Bundles",
    ),
    "FHIR-NARRATIVE": Text(
        "Et link i den menneskelæsbare tekst fører ingen steder hen",
        "A link in the human-readable narrative leads nowhere",
    ),
    "FHIR-SNAPSHOT": Text(
        "Profilen kan ikke udfoldes fra sin differential",
        "The profile cannot be expanded from its differential",
    ),
    "FHIR-OPERATION": Text(
        "OperationDefinition og dens parameterprofil er uenige",
        "The OperationDefinition and its parameters profile disagree",
    ),
    "FHIR-XML": Text("FHIR-XML'en er ikke gyldig", "The FHIR XML is not valid"),
    "PACK-MISSING": Text(
        "Ikke kørt: valideringspakken mangler", "Not run: the validation pack is missing"
    ),
    "CDA-CPR": Text(
        "Patientens CPR-nummer er ikke gyldigt", "The patient's CPR number is not valid"
    ),
    "CDA-CPR-OID": Text(
        "CPR-nummeret står under MedComs gamle OID", "The CPR number uses MedCom's old OID"
    ),
    "CDA-PROFILE": Text(
        "Dokumentet angiver ingen dansk dokumentprofil, kcert kender",
        "The document declares no Danish document profile kcert knows",
    ),
    "SCH-RUN": Text(
        "Schematron kunne ikke køres på dokumentet", "The schematron could not run on the document"
    ),
    "OIOXML-ROOT": Text(
        "Ukendt OIOXML-brevtype (rodelement)", "Unknown OIOXML letter type (root element)"
    ),
    "WAIVER-EXPIRED": Text("Dispensationen er udløbet", "The waiver has expired"),
    "MANUAL-OBSERVATION": Text(
        "Testeren så ikke det forventede på skærmen",
        "The tester did not observe what was expected on screen",
    ),
    "REAL-CPR": Text(
        "SUT'en sendte et CPR-nummer uden for kcerts syntetiske testpersoner (maskeret)",
        "The SUT sent a CPR number outside kcert's synthetic test persons (masked)",
    ),
    "KCERT-ERROR": Text(
        "Testen kunne ikke gennemføres (ikke en fejl i SUT)",
        "The test could not be carried out (not a fault of the SUT)",
    ),
    "SUT-OPERATION-MISSING": Text(
        "SUT'en tilbyder ikke en operation, den skal understøtte (HTTP 404/405/501)",
        "The SUT does not offer an operation it has to support (HTTP 404/405/501)",
    ),
    "NOT-EVALUATED": Text(
        "Ikke vurderet: bygger på et fund, der allerede er rapporteret",
        "Not evaluated: builds on a finding already reported",
    ),
}

# rule id -> the standard that claimed it ("" = kcert's generic catalogue above)
_OWNERS: dict[str, str] = dict.fromkeys(RULES, "")


class RuleError(ValueError):
    """A rule id was claimed twice, or a title lacks a language."""


def register_rules(owner: str, rules: Mapping[str, Text]) -> None:
    """File a standard's rule ids with their titles; an id another owner has is refused."""
    for rule_id, text in rules.items():
        known = _OWNERS.get(rule_id)
        if known is not None:
            first = f"standard {known!r}" if known else "kcert's generic catalogue"
            raise RuleError(f"rule {rule_id} is claimed by both {first} and standard {owner!r}")
        if not (text.da and text.en):
            raise RuleError(
                f"rule {rule_id} of standard {owner!r} needs a Danish and an English title"
            )
    for rule_id, text in rules.items():
        RULES[rule_id] = text
        _OWNERS[rule_id] = owner


def owner_of(rule_id: str) -> str | None:
    """The standard that claimed `rule_id`, "" for a generic id, None for an unknown one."""
    return _OWNERS.get(rule_id)


# Rule families whose ids are made by a validator (one id per schema rule, assert or invariant).
FAMILIES: tuple[tuple[str, Text], ...] = (
    (
        "FHIR-INVARIANT-",
        Text("En FHIR-invariant er ikke overholdt", "A FHIR invariant does not hold"),
    ),
    ("FHIR-", Text("MedCom-profilen er ikke overholdt", "The MedCom profile is not met")),
    ("OIOXML-XSD-", Text("OIOXML-skemaet er ikke overholdt", "The OIOXML schema is not met")),
    ("XSD-", Text("XML-skemaet er ikke overholdt", "The XML schema is not met")),
    ("CPD-", Text("DK-CPD-reglerne er ikke overholdt", "The DK-CPD rules are not met")),
)


# Rules named elsewhere (a schematron's assert ids, a protocol's own FHIRPath rules).
OTHER = Text("Reglen er ikke overholdt (se beskeden)", "The rule is not met (see the message)")


def rule_title(rule_id: str, lang: str) -> str:
    """The rule's meaning in the report language: its own entry, its family's, or (for rules a
    protocol defines) the FHIRPath rule's."""
    text = RULES.get(rule_id)
    if text is None:
        text = next((t for prefix, t in FAMILIES if rule_id.startswith(prefix)), OTHER)
    return text.get(lang)
