"""MedCom Acknowledgement: the SUT's answer to every MedCom FHIR message kcert sends it (no
protocol of its own: the receiving protocols of the message standards check it with `ack` and
`same-ack`)."""

from harness.model.i18n import Text
from harness.model.outcome import Severity
from harness.standards.acknowledgement import checks  # noqa: F401  (registers its checks)
from harness.standards.acknowledgement.rules import RULES
from harness.standards.model import DefectEntry, Standard
from harness.standards.registry import register

STANDARD = register(
    Standard(
        name="Acknowledgement",
        title=Text(
            "MedCom Acknowledgement (kvittering)",
            "MedCom Acknowledgement",
        ),
        package=__name__,
        rules=RULES,
        defects=(
            DefectEntry(
                "ack-wrong-reference",
                "Kvitteringen henviser til Bundle.id i stedet for MessageHeader.id.",
                "The acknowledgement references Bundle.id instead of MessageHeader.id.",
                "CC-R-01",
            ),
            DefectEntry(
                "ack-sender-not-swapped",
                "Kvitteringens afsender og modtager er ikke byttet om.",
                "The acknowledgement keeps the original sender and receiver instead of swapping "
                "them.",
                "CC-R-01",
            ),
            DefectEntry(
                "no-negative-ack",
                "Fejlbehæftede meddelelser kvitteres positivt (ok).",
                "Faulty messages are acknowledged ok instead of fatal-error.",
                "CC-R-06",
            ),
            DefectEntry(
                "ack-missing-operationoutcome",
                "Negative kvitteringer mangler OperationOutcome.",
                "Negative acknowledgements carry no OperationOutcome.",
                "CC-R-06",
            ),
            DefectEntry(
                "ack-without-provenance",
                "Kvitteringen mangler Provenance for kvitteringen.",
                "The acknowledgement carries no Provenance of the acknowledgement.",
                "CC-R-12",
                Severity.F3,
            ),
            DefectEntry(
                "ack-missing-destination-use",
                "Kvitteringens MessageHeader.destination mangler use-udvidelsen (primary).",
                "The acknowledgement's MessageHeader.destination lacks the use extension "
                "(primary).",
                "CC-R-12",
                Severity.F3,
                profile_only=True,
            ),
            DefectEntry(
                "ack-missing-timestamp",
                "Kvitteringens Bundle mangler timestamp.",
                "The acknowledgement Bundle has no timestamp.",
                "CC-R-12",
                Severity.F3,
                profile_only=True,
            ),
            DefectEntry(
                "ack-destination-cc",
                "Kvitteringens eneste modtager er angivet som kopimodtager (cc) i stedet for "
                "primary.",
                "The acknowledgement's only receiver is marked as a copy (cc) instead of primary.",
                "CC-R-12",
                Severity.F3,
                profile_only=True,
            ),
        ),
    )
)
