"""Every word the quality reports and the console summary show, in Danish and English."""

from __future__ import annotations

from harness.quality.model import Category, Level, Status

WORDS: dict[str, dict[str, str]] = {
    "da": {
        "title": "Datakvalitet",
        "index_title": "Datakvalitet: sammenligning af klinikker",
        "scorecard": "Scorekort",
        "clinic": "Klinik",
        "sor": "SOR",
        "source": "Udtræk",
        "vendor": "Leverandør",
        "cluster": "Klynge",
        "patients": "Patienter",
        "as_of": "Opgjort pr.",
        "catalogue": "Tjekkatalog",
        "engine": "Motor",
        "run": "Kørsel",
        "score": "Score",
        "scores": "Scorer pr. kategori",
        "checks": "Tjek",
        "check": "Tjek",
        "category": "Kategori",
        "level": "Niveau",
        "numerator": "Fejlende",
        "denominator": "Omfattet",
        "rate": "Andel",
        "threshold": "Tærskel",
        "status": "Status",
        "explanation": "Forklaring",
        "distorts": "Fejlene forvrænger",
        "patient_list": "Patientliste",
        "failing_count": "{n} fejlende",
        "reason": "Årsag",
        "failed_checks": "Fejlede tjek",
        "passed_summary": "{passed} af {applicable} relevante tjek bestået",
        "cluster_rate": "Klyngens andel",
        "national_rate": "Landets andel",
        "outlier": "Afviger",
        "plots": "Figurer",
        "comparison": "Sammenligning på tværs af klinikker",
        "no_comparison": "Intet tjek fejlede: intet tragtplot.",
        "back": "Til oversigten",
        "run_report": "kørslens rapport",
        "rates_title": "Andel fejlende pr. tjek mod tærsklen",
        "rates_x": "andel fejlende",
        "threshold_mark": "tærskel",
        "funnel_title": "Tragtplot: {check}",
        "funnel_x": "omfattet (nævner)",
        "funnel_y": "andel fejlende",
        "funnel_national": "landets andel",
        "funnel_95": "95 %-grænse",
        "funnel_998": "99,8 %-grænse",
        "funnel_clinics": "klinikker",
        "age_title": "Dataalder: poster efter alder i hele år",
        "age_x": "alder (år før opgørelsesdagen)",
        "age_y": "poster",
        "no_data": "ingen data",
        "summary_clinic": "{sor} {name}: score {score} ({passed} af {applicable} tjek bestået)",
        "summary_failed": "  ✗ {id} {title}: {rate} ({num}/{den}) > tærskel {threshold}",
        "summary_error": "  ! {id} {title}: fejl: {reason}",
        "summary_total": "{clinics} klinik(ker), {failed} med fejlede tjek, {errors} med fejl",
        "report": "rapport: {path}",
        "reading": "Læser udtræk",
        "scoring": "Scorer",
        "drawing": "Tegner scorekort",
        "writing": "skriver rapporten …",
        "writing_pdf": "skriver rapporten og PDF-filerne …",
        "no_as_of": "{source}: udtrækket har ingen opgørelsesdag (Bundle.timestamp); angiv --as-of",
        "error": "kcert: fejl: {text}",
        "scored_step": "Udtrækket læst og scoret",
        "scored_expected": "Alle relevante tjek bestået",
        "check_expected": "Andel fejlende ≤ {threshold}",
        "found": "{id}: {rate} ({num}/{den}) over tærsklen {threshold}",
    },
    "en": {
        "title": "Data quality",
        "index_title": "Data quality: clinics compared",
        "scorecard": "Scorecard",
        "clinic": "Clinic",
        "sor": "SOR",
        "source": "Extract",
        "vendor": "Vendor",
        "cluster": "Cluster",
        "patients": "Patients",
        "as_of": "As of",
        "catalogue": "Check catalogue",
        "engine": "Engine",
        "run": "Run",
        "score": "Score",
        "scores": "Scores per category",
        "checks": "Checks",
        "check": "Check",
        "category": "Category",
        "level": "Level",
        "numerator": "Failing",
        "denominator": "Applies to",
        "rate": "Rate",
        "threshold": "Threshold",
        "status": "Status",
        "explanation": "Explanation",
        "distorts": "The faults distort",
        "patient_list": "Patient list",
        "failing_count": "{n} failing",
        "reason": "Reason",
        "failed_checks": "Failed checks",
        "passed_summary": "{passed} of {applicable} applicable checks passed",
        "cluster_rate": "Cluster rate",
        "national_rate": "National rate",
        "outlier": "Outlier",
        "plots": "Plots",
        "comparison": "Comparison across clinics",
        "no_comparison": "No check failed: no funnel plot.",
        "back": "Back to the overview",
        "run_report": "the run's report",
        "rates_title": "Failing rate per check against its threshold",
        "rates_x": "failing rate",
        "threshold_mark": "threshold",
        "funnel_title": "Funnel plot: {check}",
        "funnel_x": "applies to (denominator)",
        "funnel_y": "failing rate",
        "funnel_national": "national rate",
        "funnel_95": "95 % limit",
        "funnel_998": "99.8 % limit",
        "funnel_clinics": "clinics",
        "age_title": "Data age: records by age in whole years",
        "age_x": "age (years before the as-of day)",
        "age_y": "records",
        "no_data": "no data",
        "summary_clinic": "{sor} {name}: score {score} ({passed} of {applicable} checks passed)",
        "summary_failed": "  ✗ {id} {title}: {rate} ({num}/{den}) > threshold {threshold}",
        "summary_error": "  ! {id} {title}: error: {reason}",
        "summary_total": "{clinics} clinic(s), {failed} with failed checks, {errors} with errors",
        "report": "report: {path}",
        "reading": "Reading extracts",
        "scoring": "Scoring",
        "drawing": "Drawing the scorecards",
        "writing": "writing the report …",
        "writing_pdf": "writing the report and the PDF files …",
        "no_as_of": "{source}: the extract has no as-of day (Bundle.timestamp); give --as-of",
        "error": "kcert: error: {text}",
        "scored_step": "The extract read and scored",
        "scored_expected": "Every applicable check passed",
        "check_expected": "Failing rate ≤ {threshold}",
        "found": "{id}: {rate} ({num}/{den}) over the threshold {threshold}",
    },
}

STATUS: dict[str, dict[Status, str]] = {
    "da": {
        Status.PASSED: "bestået",
        Status.FAILED: "fejlet",
        Status.NOT_APPLICABLE: "ikke relevant",
        Status.ERROR: "fejl",
    },
    "en": {
        Status.PASSED: "passed",
        Status.FAILED: "failed",
        Status.NOT_APPLICABLE: "not applicable",
        Status.ERROR: "error",
    },
}

CATEGORY: dict[str, dict[Category, str]] = {
    "da": {
        Category.CONFORMANCE: "overensstemmelse",
        Category.COMPLETENESS: "fuldstændighed",
        Category.PLAUSIBILITY: "troværdighed",
    },
    "en": {
        Category.CONFORMANCE: "conformance",
        Category.COMPLETENESS: "completeness",
        Category.PLAUSIBILITY: "plausibility",
    },
}

LEVEL: dict[str, dict[Level, str]] = {
    "da": {Level.PATIENT: "patient", Level.CLINIC: "klinik"},
    "en": {Level.PATIENT: "patient", Level.CLINIC: "clinic"},
}

OUTLIER: dict[str, dict[str, str]] = {
    "da": {
        "": "",
        "above95": "over 95 %-grænsen",
        "above998": "over 99,8 %-grænsen",
        "below95": "under 95 %-grænsen",
        "below998": "under 99,8 %-grænsen",
    },
    "en": {
        "": "",
        "above95": "above the 95 % limit",
        "above998": "above the 99.8 % limit",
        "below95": "below the 95 % limit",
        "below998": "below the 99.8 % limit",
    },
}


def words(lang: str) -> dict[str, str]:
    return WORDS["en" if lang == "en" else "da"]


def lang_of(lang: str) -> str:
    return "en" if lang == "en" else "da"


def percent(value: float | None, lang: str) -> str:
    """A rate as a percentage with one decimal (Danish decimal comma); "—" for none."""
    if value is None:
        return "—"
    text = f"{value * 100:.1f} %"
    return text.replace(".", ",") if lang_of(lang) == "da" else text


def number(value: float | None, lang: str, digits: int = 1) -> str:
    if value is None:
        return "—"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang_of(lang) == "da" else text
