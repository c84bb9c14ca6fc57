"""The fault scenarios kcert's own tests hold REF01's checks to (data only; the format is
described in harness/standards/carecommunication/faults.py)."""

from typing import Any

SEND_REFERRAL = ("trigger-send", {"kind": "referral", "answer": "positive", "wait_s": 0.2})

CHECKS: dict[str, dict[str, Any]] = {
    "sent-referral": {"params": {"diagnosis": "DJ44"}, "action": SEND_REFERRAL},
}
DELIVERY: dict[str, dict[str, Any]] = {"sent-referral": {"diagnosis": "DJ44"}}
