"""MedCom CareCommunication (korrespondancemeddelelse): receive (kcert sends, the SUT
acknowledges; the acknowledgement itself is judged by harness.standards.acknowledgement) and
send (the SUT's test agent sends to kcert's peer)."""

from harness.model.i18n import Text
from harness.model.kinds import MessageKind
from harness.model.outcome import Severity
from harness.standards.carecommunication import checks  # noqa: F401  (registers its checks)
from harness.standards.carecommunication.natives import NATIVES
from harness.standards.carecommunication.rules import RULES
from harness.standards.model import DefectEntry, Standard
from harness.standards.registry import register

SENDING = "harness/tests/test_testscript_sending.py::"

STANDARD = register(
    Standard(
        name="CareCommunication",
        title=Text(
            "MedCom CareCommunication (korrespondancemeddelelse)",
            "MedCom CareCommunication (care communication message)",
        ),
        package=__name__,
        kinds=(
            MessageKind(
                "carecommunication",
                "/fhir/$process-message",
                "fhir",
                event="care-communication-message",
            ),
        ),
        rules=RULES,
        protocols=("carecommunication-receive.yaml", "carecommunication-send.yaml"),
        templates=("messages/carecommunication.json.j2",),
        natives=NATIVES,
        defects=(
            DefectEntry(
                "duplicate-processed-twice",
                "En dublet behandles og gemmes igen.",
                "A duplicate message is processed and stored a second time.",
                "CC-R-05",
            ),
            DefectEntry(
                "server-error-on-garbage",
                "Svarer HTTP 500 på et indhold, der ikke er FHIR.",
                "Answers HTTP 500 to a body that is not FHIR.",
                "CC-R-08",
                Severity.F3,
            ),
            DefectEntry(
                "xml-unsupported",
                "Afviser FHIR XML med HTTP 415.",
                "Refuses FHIR XML with HTTP 415.",
                "CC-R-02",
            ),
            DefectEntry(
                "send-missing-topic",
                "Afsendte korrespondancemeddelelser med kategori 'other' mangler emne (topic).",
                "Sent CareCommunications of category 'other' have no topic.",
                "CC-S-01",
            ),
            DefectEntry(
                "send-wrong-profile",
                "MessageHeader i afsendte meddelelser angiver en forkert profil-URL.",
                "The MessageHeader of sent messages names a wrong profile URL.",
                "CC-S-01",
            ),
            DefectEntry(
                "no-resend",
                "Meddelelser uden kvittering gensendes aldrig.",
                "Messages that are never acknowledged are never resent.",
                "CC-S-02",
            ),
            DefectEntry(
                "fatal-ack-as-ok",
                "En negativ kvittering (fatal-error) behandles som positiv.",
                "A negative acknowledgement (fatal-error) is treated as ok.",
                "CC-S-03",
            ),
            # what the LPS sends on request of a TestScript (agent API 1.4.0): kcert tests
            DefectEntry(
                "reply-new-thread",
                "Et svar får en ny kommunikations-id i stedet for trådens.",
                "A reply gets a new communication identifier instead of the thread's.",
                test=SENDING + "test_a_reply_with_a_new_thread_identifier_is_caught",
            ),
            DefectEntry(
                "attachment-wrong-size",
                "Et bilags størrelse (Attachment.size) er én byte for stor.",
                "An attachment's Attachment.size is one byte too large.",
                test=SENDING + "test_an_attachment_stated_wrongly_fails_the_operation",
            ),
            DefectEntry(
                "attachment-sha256-hash",
                "Et bilags hash er SHA-256 i stedet for SHA-1, som FHIR R4 kræver.",
                "An attachment's hash is SHA-256 instead of the SHA-1 FHIR R4 requires.",
                test=SENDING + "test_an_attachment_stated_wrongly_fails_the_operation",
            ),
        ),
    )
)
