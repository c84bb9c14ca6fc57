"""A tester's answer to an attended (manual) step: verdict, note, attachments, who and when."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from harness.model.outcome import Severity

# MedCom's scale as a tester records it: OK, or the severity of what they saw.
VERDICTS = ("OK", "F1", "F2", "F3", "F4")


@dataclass(frozen=True)
class Attachment:
    """A file the tester added (screenshot, export); kept byte for byte in the dossier."""

    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ManualAnswer:
    protocol_id: str
    case_id: str
    step_id: str
    verdict: str  # one of VERDICTS
    note: str = ""
    tester: str = ""  # who answered (not who ran the run: that is the run's tester)
    answered_at: str = ""  # as the answers file or the prompt recorded it; "" = not recorded
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)

    @property
    def severity(self) -> Severity:
        return Severity.parse(self.verdict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "note": self.note,
            "tester": self.tester,
            "answered_at": self.answered_at,
            "time_recorded": bool(self.answered_at),
            "attachments": [{"name": a.name, "sha256": a.sha256} for a in self.attachments],
        }
