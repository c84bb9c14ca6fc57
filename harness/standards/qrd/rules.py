"""DK-QRD's rule ids (the PRO document checks), with their Danish and English titles."""

from harness.model.i18n import Text

RULES: dict[str, Text] = {
    "PRO-HTTP": Text("PRO-dokumentet blev ikke modtaget", "The PRO document was not accepted"),
    "PRO-FORMAT": Text(
        "Kvitteringen for PRO-dokumentet følger ikke kontrakten",
        "The receipt for the PRO document does not follow the contract",
    ),
    "PRO-PATIENT": Text(
        "PRO-dokumentet blev knyttet til en anden patient",
        "The PRO document was attached to another patient",
    ),
}
