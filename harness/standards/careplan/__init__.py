"""The shared care plan (DK-CPD, a CDA document) the SUT submits to kcert's document repository."""

from harness.model.i18n import Text
from harness.model.outcome import Severity
from harness.standards.careplan import checks  # noqa: F401  (registers its checks)
from harness.standards.careplan.rules import RULES
from harness.standards.model import DefectEntry, Standard
from harness.standards.registry import register

STANDARD = register(
    Standard(
        name="DK-CPD",
        title=Text(
            "Delt forløbsplan (DK-CPD, CDA) til dokumentdelingen",
            "Shared care plan (DK-CPD, CDA) to document sharing",
        ),
        package=__name__,
        rules=RULES,
        protocols=("careplan-sharing.yaml",),
        defects=(
            DefectEntry(
                "cpd-missing-goal-section",
                "Den delte forløbsplan (DK-CPD) mangler målsektionen.",
                "The shared care plan (DK-CPD) has no goals section.",
                "CP-01",
            ),
            DefectEntry(
                "cpd-wrong-cpr-root",
                "Patientens CPR-nummer står i planen med SOR-rod-OID'en i stedet for CPR's.",
                "The plan identifies the patient's CPR number under the SOR root OID, not CPR's.",
                "CP-01",
            ),
            DefectEntry(
                "cpd-metadata-cpr-mismatch",
                "Metadata til dokumentdelingen har et andet CPR-nummer end dokumentets header.",
                "The sharing metadata carries another CPR number than the document header.",
                "CP-02",
                Severity.F1,
            ),
            DefectEntry(
                "cpd-stale-measurement",
                "Den delte plan viser den ældste måling (også over 2 år) i stedet for den seneste.",
                "The shared plan shows the oldest measurement (even over two years), not the "
                "latest.",
                "CP-03",
            ),
            DefectEntry(
                "cpd-replacement-without-parent",
                "En ny version af planen erstatter ikke den forrige (ingen parentDocument, nyt "
                "setId).",
                "A new version of the plan does not replace the previous one (no parent, new "
                "setId).",
                "CP-04",
            ),
        ),
    )
)
