"""The cockpit's rule ids (lists, profiles, plans), with their Danish and English titles."""

from harness.model.i18n import Text

RULES: dict[str, Text] = {
    "COCKPIT-HTTP": Text("Listen kunne ikke hentes", "The list could not be read"),
    "COCKPIT-FORMAT": Text(
        "Svaret følger ikke LPS-testagent-API'et (liste, profil eller plan)",
        "The answer does not follow the LPS test agent API (list, profile or plan)",
    ),
    "COCKPIT-DUPLICATE": Text("En patient står to gange på listen", "A patient is listed twice"),
    "COCKPIT-MISSING": Text(
        "En patient mangler på listen", "A patient who belongs on the list is missing"
    ),
    "COCKPIT-EXTRA": Text(
        "En patient står på listen uden at høre til", "A patient is listed who does not belong"
    ),
    "COCKPIT-PROFILE-MISSING": Text("En profil tilbydes ikke", "A profile is not offered"),
    "COCKPIT-PLAN-HTTP": Text("Planen kunne ikke hentes", "The plan could not be read"),
    "COCKPIT-LINK": Text(
        "Linket åbner en anden patients plan", "The link opens another patient's plan"
    ),
    "COCKPIT-VALUE": Text("Listerækken viser en forkert værdi", "The list row shows a wrong value"),
    "COCKPIT-STALE": Text(
        "Planen viser data ældre end 2 år", "The plan shows data older than two years"
    ),
    "COCKPIT-PLAN-MEASUREMENT": Text(
        "Planen viser ikke den seneste måling", "The plan does not show the latest measurement"
    ),
    "COCKPIT-GOALS": Text("Planen har ingen mål", "The plan has no goals"),
    "COCKPIT-COLOUR": Text("Forkert stratificering i planen", "Wrong stratification in the plan"),
}
