"""DK-CPD's rule ids: the shared plan, its repository submission and metadata (da/en)."""

from harness.model.i18n import Text

RULES: dict[str, Text] = {
    "SHARE-HTTP": Text(
        "Anmodningen om at dele planen blev ikke gennemført",
        "The request to share the plan was not carried out",
    ),
    "REPO-NONE": Text(
        "Intet dokument nåede frem til kcerts dokumentdeling",
        "No document reached kcert's document repository",
    ),
    "REPO-FORMAT": Text(
        "Indsendelsen til dokumentdelingen følger ikke kontrakten (metadata + base64-CDA)",
        "The repository submission does not follow the contract (metadata + base64 CDA)",
    ),
    "CPD-PARSE": Text(
        "Det delte dokument er ikke et læsbart CDA-dokument",
        "The shared document is not a readable CDA document",
    ),
    "CPD-XSD": Text(
        "Dokumentet overholder ikke CDA-skemaet (XML Schema)",
        "The document breaks the CDA XML Schema",
    ),
    "CPD-SCHEMATRON": Text(
        "Dokumentet overholder ikke MedComs schematron for DK-CPD",
        "The document breaks MedCom's DK-CPD schematron",
    ),
    "CPD-TEMPLATE": Text(
        "DK-CPD-templateId mangler i dokumentets header",
        "The DK-CPD templateId is missing from the header",
    ),
    "CPD-CODE": Text(
        "Dokumentkoden er ikke LOINC 81215-6 (forløbsplan)",
        "The document code is not LOINC 81215-6 (care plan)",
    ),
    "CPD-PATIENT-ID": Text(
        "Patienten er ikke identificeret med CPR-nummer under CPR-rod-OID'en",
        "The patient is not identified by a CPR number under the CPR root OID",
    ),
    "CPD-AUTHOR-SOR": Text(
        "Forfatteren (klinikken) har ikke et SOR-id", "The author (the clinic) has no SOR id"
    ),
    "CPD-SECTION": Text(
        "En påkrævet sektion mangler eller har forkert kode",
        "A required section is missing or wrongly coded",
    ),
    "CPD-GOALS": Text(
        "Planen mangler målsektionen eller mål", "The plan lacks the goals section or goals"
    ),
    "CPD-EFFECTIVE-TIME": Text(
        "Dokumentets effectiveTime er ikke et gyldigt tidspunkt",
        "The document's effectiveTime is not a valid time",
    ),
    "CPD-VERSION": Text(
        "Dokumentet mangler id, setId eller versionNumber",
        "The document lacks id, setId or versionNumber",
    ),
    "META-PATIENT": Text(
        "Metadata angiver en anden patient (CPR eller rod-OID) end dokumentet",
        "The metadata names another patient (CPR or root OID) than the document",
    ),
    "META-AUTHOR": Text(
        "Metadata angiver en anden forfatter (SOR) end dokumentet",
        "The metadata names another author (SOR) than the document",
    ),
    "META-FORMAT": Text("Forkert formatCode i metadata", "Wrong formatCode in the metadata"),
    "META-CLASS": Text("Forkert classCode i metadata", "Wrong classCode in the metadata"),
    "META-TYPE": Text(
        "typeCode i metadata er ikke dokumentets kode",
        "The metadata typeCode is not the document code",
    ),
    "META-TIME": Text(
        "creationTime i metadata er ikke dokumentets effectiveTime",
        "The metadata creationTime is not the document's effectiveTime",
    ),
    "META-CONFIDENTIALITY": Text(
        "Fortrolighedskoden i metadata er ikke dokumentets",
        "The metadata confidentiality code is not the document's",
    ),
    "META-UNIQUEID": Text(
        "uniqueId i metadata er ikke dokumentets id", "The metadata uniqueId is not the document id"
    ),
    "META-PARENT": Text(
        "Metadata peger ikke på det dokument, den nye version erstatter",
        "The metadata does not name the document the new version replaces",
    ),
    "CPD-WRONG-PATIENT": Text(
        "Den delte plan handler om en anden patient", "The shared plan is about another patient"
    ),
    "CPD-COLOUR": Text(
        "Forkert stratificering i den delte plan", "Wrong stratification in the shared plan"
    ),
    "CPD-MEASUREMENT": Text(
        "Den delte plan viser ikke den seneste måling",
        "The shared plan does not show the latest measurement",
    ),
    "CPD-STALE": Text(
        "Den delte plan viser data ældre end 2 år",
        "The shared plan shows data older than two years",
    ),
    "CPD-REPLACE": Text(
        "Den nye version erstatter ikke den forrige (RPLC, setId, versionNumber)",
        "The new version does not replace the previous one (RPLC, setId, versionNumber)",
    ),
}
