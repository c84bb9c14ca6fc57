"""The fault scenarios kcert's own tests hold CareCommunication's checks to (data only).

harness/tests/test_faults.py runs every registered check against a loopback stub SUT that
answers 404, 400 + problem+json, 500 + OperationOutcome, malformed and wrong-shaped bodies, and
holds it to "fails once, at its root, quoting the SUT". A standard's own checks name their
scenario here, so adding a standard does not touch test_faults.py: for each check the step
that meets the fault (`action`, with the check as its only expectation, `params`), the steps
`before` it, and the modes (`passes`) in which the stub's answer is a right one for the check.
`DELIVERY` lists the checks that judge what the SUT sent to kcert's peer, with their params.
"""

from typing import Any

SEND_CC = ("trigger-send", {"kind": "carecommunication", "answer": "ok", "wait_s": 0.2})

CHECKS: dict[str, dict[str, Any]] = {
    "sent-carecommunication": {"params": {}, "action": SEND_CC},
}
DELIVERY: dict[str, dict[str, Any]] = {"sent-carecommunication": {}}
