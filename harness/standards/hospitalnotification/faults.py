"""The fault scenarios kcert's own tests hold HospitalNotification's checks to (data only; the
format is described in harness/standards/carecommunication/faults.py)."""

from typing import Any

SEND = ("send-message", {"template": "messages/hospitalnotification.json.j2", "peer": "sygehus"})
MODES = ("404", "400-problem", "500-outcome", "malformed", "wrong-shape")

CHECKS: dict[str, dict[str, Any]] = {
    "hospital-stay": {
        "params": {"of": 1, "state": "admitted"},
        "action": ("agent-get", {"path": "hospital-stays"}),
        "before": [SEND],
    },
    # it names what the installed packs cannot judge; the SUT's answer is not what it reads
    "hospitalnotification-context": {
        "params": {},
        "action": SEND,
        "passes": {m: "the check reads the installed packs, not the answer" for m in MODES},
    },
}
