"""HospitalNotification's own rule ids, with their Danish and English titles."""

from harness.model.i18n import Text

RULES: dict[str, Text] = {
    "HN-STAY-MISSING": Text(
        "Opholdet fra advis vises ikke", "The stay from the notification is not shown"
    ),
    "HN-STAY-SHOWN": Text(
        "Et advis, der ikke skulle indlæses, vises som ophold",
        "A notification that should not be loaded is shown as a stay",
    ),
    "HN-STAY-PATIENT": Text(
        "Opholdet vises på en anden patient end advisets",
        "The stay is shown for another patient than the notification's",
    ),
    "HN-STAY-STATE": Text(
        "Opholdets status er ikke den, adviserne giver",
        "The stay's state is not the one the notifications add up to",
    ),
    "HN-STAY-HISTORY": Text(
        "Opholdets historik gengiver ikke, hvad hvert advis gjorde",
        "The stay's history does not show what each notification did",
    ),
    "HN-STAY-START": Text(
        "Opholdets starttidspunkt er ikke det rettede",
        "The stay's start time is not the corrected one",
    ),
}
