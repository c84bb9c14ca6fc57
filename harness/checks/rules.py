"""The rule catalogue: what each rule id means, in Danish and English, for reports."""

from __future__ import annotations

from harness.model.i18n import Text

RULES: dict[str, Text] = {
    "HTTP-STATUS": Text("Uventet HTTP-statuskode", "Unexpected HTTP status code"),
    "HTTP-5XX": Text(
        "Serverfejl (5xx) i stedet for et 4xx-svar, der forklarer problemet",
        "Server error (5xx) instead of a 4xx answer explaining the problem",
    ),
    "HTTP-CONTENT-TYPE": Text("Forkert Content-Type for FHIR", "Wrong Content-Type for FHIR"),
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
    "ACK-HTTP": Text(
        "En meddelelse skal besvares med HTTP 200 og en kvittering",
        "A message must be answered HTTP 200 with an acknowledgement",
    ),
    "ACK-TYPE": Text(
        "Svaret er ikke en kvitteringsmeddelelse (Bundle af typen message)",
        "The answer is not an acknowledgement message (Bundle of type message)",
    ),
    "ACK-HEADER": Text(
        "Første entry i kvitteringen er ikke en MessageHeader",
        "The acknowledgement's first entry is not a MessageHeader",
    ),
    "ACK-EVENT": Text(
        "Kvitteringens eventkode er ikke acknowledgement-message",
        "The acknowledgement's event code is not acknowledgement-message",
    ),
    "ACK-REF": Text(
        "Kvitteringen henviser ikke til den modtagne MessageHeader.id",
        "The acknowledgement does not reference the received MessageHeader.id",
    ),
    "ACK-CODE": Text("Forkert kvitteringskode", "Wrong acknowledgement code"),
    "ACK-SENDER": Text(
        "Kvitteringens afsender er ikke SUT", "The acknowledgement's sender is not the SUT"
    ),
    "ACK-RECEIVER": Text(
        "Kvitteringens modtager er ikke den oprindelige afsender",
        "The acknowledgement's receiver is not the original sender",
    ),
    "ACK-OO": Text(
        "Negativ kvittering uden OperationOutcome (medcom-acknowledgement-1)",
        "Negative acknowledgement without OperationOutcome (medcom-acknowledgement-1)",
    ),
    "ACK-OO-REF": Text(
        "response.details peger ikke på OperationOutcome i kvitteringen",
        "response.details does not reference the OperationOutcome in the acknowledgement",
    ),
    "ACK-PROFILE": Text(
        "Kvitteringen angiver ikke MedComs acknowledgement-profil",
        "The acknowledgement does not name MedCom's acknowledgement profile",
    ),
    "ACK-DUP": Text(
        "En dublet blev ikke kvitteret som originalen",
        "A duplicate was not acknowledged like the original",
    ),
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
    "COCKPIT-HTTP": Text("Listen kunne ikke hentes", "The list could not be read"),
    "COCKPIT-FORMAT": Text(
        "Svaret følger ikke LPS-testagent-API'et (liste, profil eller plan)",
        "The answer does not follow the LPS test agent API (list, profile or plan)",
    ),
    "COCKPIT-DUPLICATE": Text("En patient står to gange på listen", "A patient is listed twice"),
    "COCKPIT-MISSING": Text(
        "En patient mangler på listen", "A patient who belongs on the list is missing"
    ),
    "COCKPIT-EXTRA": Text(
        "En patient står på listen uden at høre til", "A patient is listed who does not belong"
    ),
    "COCKPIT-PROFILE-MISSING": Text("En profil tilbydes ikke", "A profile is not offered"),
    "COCKPIT-PLAN-HTTP": Text("Planen kunne ikke hentes", "The plan could not be read"),
    "COCKPIT-LINK": Text(
        "Linket åbner en anden patients plan", "The link opens another patient's plan"
    ),
    "COCKPIT-VALUE": Text("Listerækken viser en forkert værdi", "The list row shows a wrong value"),
    "COCKPIT-STALE": Text(
        "Planen viser data ældre end 2 år", "The plan shows data older than two years"
    ),
    "COCKPIT-PLAN-MEASUREMENT": Text(
        "Planen viser ikke den seneste måling", "The plan does not show the latest measurement"
    ),
    "COCKPIT-GOALS": Text("Planen har ingen mål", "The plan has no goals"),
    "COCKPIT-COLOUR": Text("Forkert stratificering i planen", "Wrong stratification in the plan"),
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
    "WAIVER-EXPIRED": Text("Dispensationen er udløbet", "The waiver has expired"),
    "MANUAL-OBSERVATION": Text(
        "Testeren så ikke det forventede på skærmen",
        "The tester did not observe what was expected on screen",
    ),
    "KCERT-ERROR": Text(
        "Testen kunne ikke gennemføres (ikke en fejl i SUT)",
        "The test could not be carried out (not a fault of the SUT)",
    ),
}


def rule_title(rule_id: str, lang: str) -> str:
    """The rule's meaning in the report language; protocol-defined rules fall back to FHIRPath."""
    text = RULES.get(rule_id) or RULES["FHIRPATH"]
    return text.get(lang)
