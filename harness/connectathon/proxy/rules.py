"""The rule ids the recording proxy's findings carry, with their Danish and English titles
(filed in kcert's rule catalogue when the proxy is imported, so reports and the web
application title them as every other rule)."""

from __future__ import annotations

from harness.checks.rules import RULES, register_rules
from harness.model.i18n import Text

OWNER = "connectathon-proxy"
NOT_VALIDATED = "PROXY-NOT-VALIDATED"  # a body (or a check on it) live validation did not judge
VALIDATOR_ERROR = "PROXY-VALIDATOR"  # kcert's fault: a pack does not load, the validator failed
UNSAFE = "PROXY-PAYLOAD"  # a body that cannot be read safely (DTD, too deep, not UTF-8 ...)
PACKS = "PROXY-PACKS"  # which packs judged a body
UNMATCHED = "PROXY-UNMATCHED"  # why an exchange matched no test instance

PROXY_RULES = {
    NOT_VALIDATED: Text(
        "Udvekslingen er ikke valideret (grunden står i beskeden)",
        "The exchange was not validated (the message says why)",
    ),
    VALIDATOR_ERROR: Text(
        "kcerts validator kunne ikke køre på udvekslingen",
        "kcert's validator could not run on the exchange",
    ),
    UNSAFE: Text(
        "Indholdet kan ikke læses sikkert (DTD, for dybt, ikke UTF-8)",
        "The body cannot be read safely (DTD, too deep, not UTF-8)",
    ),
    PACKS: Text("Pakkerne, der bedømte indholdet", "The packs that judged the body"),
    UNMATCHED: Text(
        "Udvekslingen passer ikke til netop én testinstans",
        "The exchange fits no single test instance",
    ),
}

if NOT_VALIDATED not in RULES:  # filed once per process
    register_rules(OWNER, PROXY_RULES)
