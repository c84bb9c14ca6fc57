"""Live progress of a run on the terminal (rich), fed by runner events, in the run's language."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.cli.words import state
from harness.model.outcome import Outcome
from harness.runner.events import CaseFinished, CaseStarted, Event, RunFinished, RunStarted

_COLOUR = {
    Outcome.PASS: "green",
    Outcome.FAIL: "red",
    Outcome.ERROR: "magenta",
    Outcome.PENDING: "yellow",
    Outcome.SKIP: "yellow",
    Outcome.NOT_IN_SCOPE: "dim",
}


def mark(outcome: Outcome, lang: str) -> str:
    """The case state, padded to the longest state word of `lang`, in its colour."""
    width = max(len(state(o, lang)) for o in Outcome)
    text = state(outcome, lang)
    return f"[{_COLOUR.get(outcome, 'white')}]{text:>{width}}[/]"


class ProgressDisplay:
    """One bar for the run, one line per finished test case."""

    def __init__(self, console: Console, lang: str = "da") -> None:
        self.console = console
        self.lang = lang
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("kcert", total=0)
        self.scoped = ""  # the protocol the running case's id belongs to, when it needs one

    def _name(self, case_id: str) -> str:
        return f"{self.scoped}/{case_id}" if self.scoped else case_id

    def pause(self) -> None:
        self.progress.stop()

    def resume(self) -> None:
        self.progress.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.progress.update(self.task, total=event.total_cases)
            self.progress.start()
        elif isinstance(event, CaseStarted):
            # a TestScript's case ids (setup, t1, teardown) mean something only with its own
            self.scoped = event.protocol.id if event.protocol.shares_state else ""
            self.progress.update(self.task, description=self._name(event.case.id))
        elif isinstance(event, CaseFinished):
            result = event.result
            self.progress.advance(self.task)
            # what did not run or ended in an error says why, on its own line
            after = result.not_in_scope or result.error or result.assessment.value
            self.progress.console.print(
                f"  {mark(result.outcome, self.lang)} {escape(self._name(result.case.id)):10} "
                f"{escape(result.case.title.get(self.lang))} [dim]({escape(after)})[/]",
                no_wrap=True,
                overflow="ellipsis",
            )
        elif isinstance(event, RunFinished):
            self.progress.stop()
