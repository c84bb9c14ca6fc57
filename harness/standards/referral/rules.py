"""REF01's rule ids (the `sent-referral` check), with their Danish and English titles."""

from harness.model.i18n import Text

RULES: dict[str, Text] = {
    "REF-PARSE": Text("Henvisningen er ikke brugbar XML", "The referral is not usable XML"),
    "REF-PATIENT": Text(
        "Henvisningen gælder ikke testpatienten", "The referral is not about the test patient"
    ),
    "REF-SENDER": Text(
        "Henvisningens afsender-GLN er ikke SUT's", "The referral's sender GLN is not the SUT's"
    ),
    "REF-RECEIVER": Text(
        "Henvisningens modtager-GLN er ikke kommunens",
        "The referral's receiver GLN is not the municipality's",
    ),
    "REF-GLN-CHECK": Text(
        "GLN-nummeret har forkert GS1-kontrolciffer", "The GLN has a wrong GS1 check digit"
    ),
    "REF-REASON": Text(
        "Henvisningen mangler klinisk årsag", "The referral gives no clinical reason"
    ),
    "REF-DIAGNOSIS": Text(
        "Henvisningens diagnose passer ikke til forløbspakken",
        "The referral's diagnosis does not fit the care package",
    ),
}
