"""The cockpit: the SUT's profile lists and plans for a loaded population, judged against the
oracle (harness.oracle) and the rule pack."""

from harness.model.i18n import Text
from harness.model.outcome import Severity
from harness.standards.cockpit import checks  # noqa: F401  (registers its checks)
from harness.standards.cockpit.rules import RULES
from harness.standards.model import DefectEntry, Standard
from harness.standards.registry import register

STANDARD = register(
    Standard(
        name="Cockpit",
        title=Text(
            "Cockpit: profillister og forløbsplaner",
            "Cockpit: profile lists and care plans",
        ),
        package=__name__,
        rules=RULES,
        protocols=("cockpit-profiles.yaml",),
        defects=(
            DefectEntry(
                "bp-threshold-inclusive",
                "Blodtryksprofilen tager 150 med (>= i stedet for >).",
                "The blood pressure profile includes exactly 150 (>= instead of >).",
                "KC-P04",
            ),
            DefectEntry(
                "stale-data-counted",
                "Målinger ældre end 2 år tæller med.",
                "Measurements older than two years are counted.",
                "KC-P04",
            ),
            DefectEntry(
                "egfr-text-skipped",
                "eGFR-teksten >90 springes over, og en ældre talværdi bruges.",
                "The eGFR text >90 is skipped and an older number is used instead.",
                "KC-P10",
            ),
            DefectEntry(
                "deceased-included",
                "Døde patienter står stadig på listerne.",
                "Deceased patients are still on the lists.",
                "KC-P01",
            ),
            DefectEntry(
                "other-clinic-included",
                "Patienter med anden egen læge kommer med.",
                "Patients whose general practitioner is another clinic are included.",
                "KC-P01",
            ),
            DefectEntry(
                "moved-away-included",
                "Fraflyttede (inaktive) patienter kommer med.",
                "Patients who left the clinic's list (inactive) are included.",
                "KC-P01",
            ),
            DefectEntry(
                "red-yellow-swapped",
                "KOL-stratificeringens rød og gul er byttet om.",
                "COPD stratification red and yellow are swapped.",
                "KC-P05",
            ),
            DefectEntry(
                "as-of-ignored",
                "Opgørelsesdatoen ignoreres; dagens dato bruges.",
                "The as-of date is ignored; today's date is used.",
                "KC-ASOF",
            ),
            DefectEntry(
                "deep-link-wrong-patient",
                "Linket fra en listerække åbner næste patients plan.",
                "The link from a list row opens the next patient's plan.",
                "KC-LINK",
                Severity.F1,
            ),
            DefectEntry(
                "age-by-year",
                "Alder beregnes som årstal minus fødselsår (18 hele året).",
                "Age is the year minus the birth year (18 for the whole year).",
                "KC-P01",
            ),
        ),
    )
)
