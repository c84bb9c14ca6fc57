"""CareCommunication's own rule ids, with their Danish and English titles."""

from harness.model.i18n import Text

RULES: dict[str, Text] = {
    "SEND-PROFILE": Text(
        "En ressource angiver ikke MedComs publicerede profil-URL",
        "A resource does not name MedCom's published profile URL",
    ),
    "SEND-INVARIANT": Text(
        "En MedCom-invariant er ikke overholdt", "A MedCom invariant does not hold"
    ),
}
