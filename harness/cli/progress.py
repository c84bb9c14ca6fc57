"""Live progress of a run on the terminal (rich), fed by runner events."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harness.model.outcome import Outcome
from harness.runner.events import CaseFinished, CaseStarted, Event, RunFinished, RunStarted

_MARK = {
    Outcome.PASS: "[green]OK[/]",
    Outcome.FAIL: "[red]FEJL[/]",
    Outcome.ERROR: "[magenta]ERROR[/]",
    Outcome.PENDING: "[yellow]AFVENTER[/]",
    Outcome.SKIP: "[yellow]SKIP[/]",
    Outcome.NOT_IN_SCOPE: "[dim]IKKE OMFATTET[/]",
}


class ProgressDisplay:
    """One bar for the run, one line per finished test case."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("kcert", total=0)

    def pause(self) -> None:
        self.progress.stop()

    def resume(self) -> None:
        self.progress.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.progress.update(self.task, total=event.total_cases)
            self.progress.start()
        elif isinstance(event, CaseStarted):
            self.progress.update(self.task, description=f"{event.case.id}")
        elif isinstance(event, CaseFinished):
            result = event.result
            self.progress.advance(self.task)
            after = result.not_in_scope or result.assessment.value
            self.progress.console.print(
                f"  {_MARK[result.outcome]:>20} {result.case.id:10} "
                f"{result.case.title.da} [dim]({after})[/]",
                no_wrap=True,
                overflow="ellipsis",
            )
        elif isinstance(event, RunFinished):
            self.progress.stop()
