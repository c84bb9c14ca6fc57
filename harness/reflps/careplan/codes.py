"""Identifiers and codes the reference LPS writes into and reads from CDA documents.

Taken from the LPS test agent API (the contract) and MedCom's published material; written
out here on their own so the reference LPS shares no code with the side that judges it.
"""

from __future__ import annotations

CPR_ROOT = "1.2.208.176.1.2"
SOR_ROOT = "1.2.208.176.1.1"
LOINC = "2.16.840.1.113883.6.1"
CPD_TEMPLATE = "1.2.208.184.15.1"
CPD_CODE = "81215-6"
QRD_TEMPLATE = "1.2.208.184.13.1"
QRD_CODE = "74465-6"
# kcert's own code system (a UUID OID, 2.25): questionnaire items, answers, stratification.
KCERT_CODES = "2.25.307626247188809187100151675520798087832"

# XDS metadata of a shared care plan (MedCom's DK XDS profile; values as the contract states).
FORMAT_CODE = ("urn:ad:dk:medcom:cpd:full", "1.2.208.184.100.10")
CLASS_CODE = ("001", "1.2.208.184.100.9")
CONFIDENTIALITY = ("N", "2.16.840.1.113883.5.25")

# How the plan's measurements go into the outcome section: code -> (label, unit).
RESULT_LABELS: dict[str, tuple[str, str]] = {
    "DNK05472": ("Systolisk blodtryk (klinik)", "mm[Hg]"),
    "DNK35302": ("eGFR", "mL/min"),
    "MCS88021": ("MRC åndenødsskala", "1"),
    "MCS88137": ("CAT-score", "1"),
}
