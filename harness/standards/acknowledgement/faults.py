"""The fault scenarios kcert's own tests hold the acknowledgement's checks to (data only; the
format is described in harness/standards/carecommunication/faults.py)."""

from typing import Any

SEND = ("send-message", {"template": "messages/carecommunication.json.j2"})

CHECKS: dict[str, dict[str, Any]] = {
    "ack": {"params": {"code": "ok"}, "action": SEND},
    "same-ack": {"params": {"as": 1}, "action": ("resend", {"step": 1}), "before": [SEND]},
}
