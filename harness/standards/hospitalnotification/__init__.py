"""MedCom HospitalNotification ("advis om sygehusophold"): receive. kcert plays the hospital
and sends admission, leave, discharge and death notifications (and their cancellations and
corrections) to the SUT; the SUT acknowledges each (judged by harness.standards.acknowledgement's
shared `ack`/`same-ack` checks) and shows the patient's hospital stay through its test agent
(`hospital-stay`, this folder's check).

Receiver role. MedCom's receiver is the citizen's home municipality; kcert's protocol makes the
LPS (a general practice) the receiver (`RECEIVER_ROLE`). The protocol's wording and its
"citizen without relevant cases" (a citizen not on the clinic's list) follow from that role.

No HospitalNotification FHIR package is in kcert's corpus: what kcert sends is not profile
validated, and the acknowledgement version that belongs with a HospitalNotification (its
MessageDefinition) is a named not-run (`hospitalnotification-context`) while the
acknowledgement profile itself still judges the answer.
"""

from harness.model.i18n import Text
from harness.model.outcome import Severity
from harness.standards.hospitalnotification import checks  # noqa: F401  (registers its checks)
from harness.standards.hospitalnotification.rules import RULES
from harness.standards.model import DefectEntry, Standard
from harness.standards.registry import register

# Who receives the notifications in kcert's protocol (MedCom: "municipality").
RECEIVER_ROLE = "general-practice"

STANDARD = register(
    Standard(
        name="HospitalNotification",
        title=Text(
            "MedCom HospitalNotification (advis om sygehusophold)",
            "MedCom HospitalNotification (hospital stay notification)",
        ),
        package=__name__,
        rules=RULES,
        protocols=("hospitalnotification-receive.yaml",),
        templates=("messages/hospitalnotification.json.j2",),
        defects=(
            DefectEntry(
                "hn-cancel-ignored",
                "En annullering af et advis kvitteres, men det annullerede advis tæller stadig.",
                "A cancellation is acknowledged, but the notification it cancels still counts.",
                "HN-R-05",
            ),
            DefectEntry(
                "hn-out-of-order-applied",
                "Adviser tæller i den rækkefølge, de ankommer, ikke efter hændelsens tidspunkt.",
                "Notifications count in the order they arrive, not by when their event happened.",
                "HN-R-10",
            ),
            DefectEntry(
                "hn-invalid-class-accepted",
                "Et advis med ugyldig Encounter.class kvitteres positivt (ok).",
                "A notification with an invalid Encounter.class is acknowledged ok.",
                "HN-R-08",
            ),
            DefectEntry(
                "hn-unlisted-shown",
                "Adviser om borgere, klinikken ikke har på sin liste, indlæses og vises.",
                "Notifications about citizens not on the clinic's list are loaded and shown.",
                "HN-R-12",
                Severity.F1,
            ),
            DefectEntry(
                "hn-leave-ignored",
                "Start på orlov ændrer ikke opholdets status (patienten står stadig som indlagt).",
                "A start of leave does not change the stay (the patient is still shown as "
                "admitted).",
                "HN-R-04",
            ),
        ),
    )
)
