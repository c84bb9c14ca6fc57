"""A run listener that writes each finished test case to the run store at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.model.answer import ManualAnswer
from harness.model.protocol import Protocol
from harness.runner.events import CaseFinished, Event, Listener, RunStarted
from harness.store.runstore import RunStore


@dataclass
class StoreRecorder:
    """Begins the run row when the run starts and commits every case as it finishes.

    `resumed` marks a run already in the store: its row is kept, not inserted again.
    """

    store: RunStore
    protocols: list[Protocol]
    choice: dict[str, Any]
    protocol_files: list[dict[str, Any]]
    then: Listener | None = None
    resumed: bool = False
    preset: list[ManualAnswer] = field(default_factory=list)  # from an answers file
    run_id: str = ""
    _seq: int = 0
    _versions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._versions = {p.id: p.version for p in self.protocols}

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_id = event.run.run_id
            if self.resumed:
                self._seq = len(self.store.case_summaries(self.run_id))
            else:
                self.store.begin_run(event.run, self.choice, self.protocol_files)
            if self.preset:
                self.store.save_answers(self.run_id, self.preset)
        elif isinstance(event, CaseFinished) and self.run_id:
            result = event.result
            self.store.record_case(
                self.run_id, self._seq, result, self._versions.get(result.protocol_id, "")
            )
            self._seq += 1
        if self.then is not None:
            self.then(event)
