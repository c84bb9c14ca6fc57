"""Named defects: plausible vendor bugs the reference LPS can be started with."""

from __future__ import annotations

from dataclasses import dataclass

from harness.reflps.standards import received_standards


@dataclass(frozen=True)
class Defect:
    name: str
    da: str
    en: str


CATALOGUE: dict[str, Defect] = {
    d.name: d
    for d in (
        Defect(
            "ack-wrong-reference",
            "Kvitteringen henviser til Bundle.id i stedet for MessageHeader.id.",
            "The acknowledgement references Bundle.id instead of MessageHeader.id.",
        ),
        Defect(
            "ack-sender-not-swapped",
            "Kvitteringens afsender og modtager er ikke byttet om.",
            "The acknowledgement keeps the original sender and receiver instead of swapping them.",
        ),
        Defect(
            "duplicate-processed-twice",
            "En dublet behandles og gemmes igen.",
            "A duplicate message is processed and stored a second time.",
        ),
        Defect(
            "no-negative-ack",
            "Fejlbehæftede meddelelser kvitteres positivt (ok).",
            "Faulty messages are acknowledged ok instead of fatal-error.",
        ),
        Defect(
            "ack-missing-operationoutcome",
            "Negative kvitteringer mangler OperationOutcome.",
            "Negative acknowledgements carry no OperationOutcome.",
        ),
        Defect(
            "ack-without-provenance",
            "Kvitteringen mangler Provenance for kvitteringen.",
            "The acknowledgement carries no Provenance of the acknowledgement.",
        ),
        Defect(
            "ack-missing-destination-use",
            "Kvitteringens MessageHeader.destination mangler use-udvidelsen (primary).",
            "The acknowledgement's MessageHeader.destination lacks the use extension (primary).",
        ),
        Defect(
            "ack-destination-cc",
            "Kvitteringens eneste modtager er angivet som kopimodtager (cc) i stedet for primary.",
            "The acknowledgement's only receiver is marked as a copy (cc) instead of primary.",
        ),
        Defect(
            "ack-missing-timestamp",
            "Kvitteringens Bundle mangler timestamp.",
            "The acknowledgement Bundle has no timestamp.",
        ),
        Defect(
            "server-error-on-garbage",
            "Svarer HTTP 500 på et indhold, der ikke er FHIR.",
            "Answers HTTP 500 to a body that is not FHIR.",
        ),
        Defect(
            "bp-threshold-inclusive",
            "Blodtryksprofilen tager 150 med (>= i stedet for >).",
            "The blood pressure profile includes exactly 150 (>= instead of >).",
        ),
        Defect(
            "stale-data-counted",
            "Målinger ældre end 2 år tæller med.",
            "Measurements older than two years are counted.",
        ),
        Defect(
            "egfr-text-skipped",
            "eGFR-teksten >90 springes over, og en ældre talværdi bruges.",
            "The eGFR text >90 is skipped and an older number is used instead.",
        ),
        Defect(
            "deceased-included",
            "Døde patienter står stadig på listerne.",
            "Deceased patients are still on the lists.",
        ),
        Defect(
            "other-clinic-included",
            "Patienter med anden egen læge kommer med.",
            "Patients whose general practitioner is another clinic are included.",
        ),
        Defect(
            "moved-away-included",
            "Fraflyttede (inaktive) patienter kommer med.",
            "Patients who left the clinic's list (inactive) are included.",
        ),
        Defect(
            "red-yellow-swapped",
            "KOL-stratificeringens rød og gul er byttet om.",
            "COPD stratification red and yellow are swapped.",
        ),
        Defect(
            "as-of-ignored",
            "Opgørelsesdatoen ignoreres; dagens dato bruges.",
            "The as-of date is ignored; today's date is used.",
        ),
        Defect(
            "deep-link-wrong-patient",
            "Linket fra en listerække åbner næste patients plan.",
            "The link from a list row opens the next patient's plan.",
        ),
        Defect(
            "age-by-year",
            "Alder beregnes som årstal minus fødselsår (18 hele året).",
            "Age is the year minus the birth year (18 for the whole year).",
        ),
        Defect(
            "cpd-missing-goal-section",
            "Den delte forløbsplan (DK-CPD) mangler målsektionen.",
            "The shared care plan (DK-CPD) has no goals section.",
        ),
        Defect(
            "cpd-wrong-cpr-root",
            "Patientens CPR-nummer står i planen med SOR-rod-OID'en i stedet for CPR's.",
            "The plan identifies the patient's CPR number under the SOR root OID, not CPR's.",
        ),
        Defect(
            "cpd-stale-measurement",
            "Den delte plan viser den ældste måling (også over 2 år) i stedet for den seneste.",
            "The shared plan shows the oldest measurement (even over two years), not the latest.",
        ),
        Defect(
            "cpd-metadata-cpr-mismatch",
            "Metadata til dokumentdelingen har et andet CPR-nummer end dokumentets header.",
            "The sharing metadata carries another CPR number than the document header.",
        ),
        Defect(
            "cpd-replacement-without-parent",
            "En ny version af planen erstatter ikke den forrige (ingen parentDocument, nyt setId).",
            "A new version of the plan does not replace the previous one (no parent, new setId).",
        ),
        Defect(
            "qrd-ignored",
            "PRO-svar (QRD) gemmes, men indgår ikke i planens stratificering.",
            "PRO answers (QRD) are stored but never reach the plan's stratification.",
        ),
        Defect(
            "send-missing-topic",
            "Afsendte korrespondancemeddelelser med kategori 'other' mangler emne (topic).",
            "Sent CareCommunications of category 'other' have no topic.",
        ),
        Defect(
            "send-wrong-profile",
            "MessageHeader i afsendte meddelelser angiver en forkert profil-URL.",
            "The MessageHeader of sent messages names a wrong profile URL.",
        ),
        Defect(
            "no-resend",
            "Meddelelser uden kvittering gensendes aldrig.",
            "Messages that are never acknowledged are never resent.",
        ),
        Defect(
            "referral-bad-gln",
            "Henvisningens afsender-GLN har forkert GS1-kontrolciffer.",
            "The referral's sender GLN has a wrong GS1 check digit.",
        ),
        Defect(
            "fatal-ack-as-ok",
            "En negativ kvittering (fatal-error) behandles som positiv.",
            "A negative acknowledgement (fatal-error) is treated as ok.",
        ),
        Defect(
            "xml-unsupported",
            "Afviser FHIR XML med HTTP 415.",
            "Refuses FHIR XML with HTTP 415.",
        ),
        Defect(
            "reply-new-thread",
            "Et svar får en ny kommunikations-id i stedet for trådens.",
            "A reply gets a new communication identifier instead of the thread's.",
        ),
        Defect(
            "attachment-wrong-size",
            "Et bilags størrelse (Attachment.size) er én byte for stor.",
            "An attachment's Attachment.size is one byte too large.",
        ),
        Defect(
            "attachment-sha256-hash",
            "Et bilags hash er SHA-256 i stedet for SHA-1, som FHIR R4 kræver.",
            "An attachment's hash is SHA-256 instead of the SHA-1 FHIR R4 requires.",
        ),
    )
}

# the defects of the standards received in their own modules (harness/reflps/standards.py)
for _standard in received_standards():
    for _name, _da, _en in _standard.defects:
        if _name in CATALOGUE:
            raise ValueError(f"defect {_name!r} of {_standard.name} is already in the catalogue")
        CATALOGUE[_name] = Defect(_name, _da, _en)


class UnknownDefect(ValueError):
    """A defect name was given that the reference LPS does not know; see --list-defects."""


def check_names(names: list[str] | tuple[str, ...]) -> frozenset[str]:
    unknown = [n for n in names if n not in CATALOGUE]
    if unknown:
        raise UnknownDefect(
            f"unknown defect {', '.join(unknown)}; known: {', '.join(sorted(CATALOGUE))}"
        )
    return frozenset(names)
