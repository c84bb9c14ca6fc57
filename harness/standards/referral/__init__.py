"""The OIOXML referral (REF01) the SUT sends to the municipality, answered with a CTL receipt."""

from harness.model.i18n import Text
from harness.model.kinds import MessageKind
from harness.standards.model import DefectEntry, Standard
from harness.standards.referral import checks  # noqa: F401  (registers its checks)
from harness.standards.referral.rules import RULES
from harness.standards.registry import register

STANDARD = register(
    Standard(
        name="REF01",
        title=Text(
            "OIOXML-henvisning til kommunen (REF01)",
            "OIOXML referral to the municipality (REF01)",
        ),
        package=__name__,
        rules=RULES,
        kinds=(MessageKind("referral", "/oioxml", "oioxml"),),
        protocols=("referral-send.yaml",),
        defects=(
            DefectEntry(
                "referral-bad-gln",
                "Henvisningens afsender-GLN har forkert GS1-kontrolciffer.",
                "The referral's sender GLN has a wrong GS1 check digit.",
                "REF-S-01",
            ),
        ),
    )
)
