"""Observations that carry a vital sign code SHALL conform to the FHIR vital signs profile for it
(R4 observation-vitalsigns.html), whatever profile they declare."""

from __future__ import annotations

from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
_BASE = "http://hl7.org/fhir/StructureDefinition/"
# The codes of R4's vital signs table, and the equivalents the reference validator holds to the
# same profiles (pulse oximetry, systolic by non-invasive means, the SNOMED CT body temperature).
VITAL_SIGNS: dict[tuple[str, str], str] = {
    (LOINC, "85353-1"): "vitalspanel",
    (LOINC, "9279-1"): "resprate",
    (LOINC, "8867-4"): "heartrate",
    (LOINC, "2708-6"): "oxygensat",
    (LOINC, "59408-5"): "oxygensat",
    (LOINC, "8310-5"): "bodytemp",
    (SNOMED, "276885007"): "bodytemp",
    (LOINC, "8302-2"): "bodyheight",
    (LOINC, "9843-4"): "headcircum",
    (LOINC, "29463-7"): "bodyweight",
    (LOINC, "39156-5"): "bmi",
    (LOINC, "85354-9"): "bp",
    (LOINC, "76534-7"): "bp",
}


def required_profiles(observation: dict[str, Any]) -> list[tuple[str, str]]:
    """(profile canonical, the code that requires it) for an Observation's code."""
    code = observation.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    found: dict[str, str] = {}
    for coding in codings if isinstance(codings, list) else []:
        if not isinstance(coding, dict):
            continue
        key = (coding.get("system"), coding.get("code"))
        name = VITAL_SIGNS.get(key)  # type: ignore[arg-type]
        if name is not None:
            found.setdefault(_BASE + name, f"{key[0]}#{key[1]}")
    return list(found.items())
