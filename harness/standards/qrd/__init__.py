"""PRO answers (QRD documents) kcert sends the SUT, which must reach the plan's stratification."""

from harness.model.i18n import Text
from harness.standards.model import DefectEntry, Standard
from harness.standards.qrd import checks  # noqa: F401  (registers its checks)
from harness.standards.qrd.rules import RULES
from harness.standards.registry import register

STANDARD = register(
    Standard(
        name="DK-QRD",
        title=Text(
            "PRO-svar (QRD, CDA) til lægesystemet",
            "PRO answers (QRD, CDA) to the GP system",
        ),
        package=__name__,
        rules=RULES,
        protocols=("pro-documents.yaml",),
        templates=("documents/qrd.xml.j2", "documents/questionnaires.yaml"),
        defects=(
            DefectEntry(
                "qrd-ignored",
                "PRO-svar (QRD) gemmes, men indgår ikke i planens stratificering.",
                "PRO answers (QRD) are stored but never reach the plan's stratification.",
                "PRO-02",
            ),
        ),
    )
)
