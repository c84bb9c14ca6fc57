"""Ask the tester at the terminal for the answer to an attended step."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.prompt import Prompt

from harness.cli.words import say
from harness.dates import now_iso
from harness.inputfile import InputFileError, read_limited
from harness.loader.answers import MAX_ATTACHMENT_BYTES
from harness.model.answer import VERDICTS, Attachment, ManualAnswer
from harness.model.protocol import Protocol, Step, TestCase
from harness.runner.attended import Pausable

SKIP = "skip"
MAX_TRIES = 5  # a bounded dialogue: five unusable attachment paths leave the step pending


class ConsolePrompter:
    """Shows the instruction and the expected observation, then records verdict and note."""

    def __init__(self, console: Console, tester: str, lang: str = "da") -> None:
        self.console = console
        self.tester = tester  # who answers at this terminal; asked once when not given
        self.lang = lang
        # the progress display hides itself while we ask
        self.display: Pausable = _NoDisplay()

    @property
    def preset(self) -> list[ManualAnswer]:
        """Nothing is known before the tester is asked."""
        return []

    def attach(self, display: Pausable) -> None:
        self.display = display

    def answer(self, protocol: Protocol, case: TestCase, step: Step) -> ManualAnswer | None:
        self.display.pause()
        try:
            return self._ask(protocol, case, step)
        finally:
            self.display.resume()

    def _ask(self, protocol: Protocol, case: TestCase, step: Step) -> ManualAnswer | None:
        c, lang = self.console, self.lang
        step_name = say(lang, "step", case=case.id, step=step.id)
        c.rule(escape(f"{step_name}: {case.title.get(lang)}"))
        c.print(f"[bold]{say(lang, 'handling')}:[/] {escape(step.handling.get(lang))}")
        if step.testdata:
            c.print(f"[bold]{say(lang, 'testdata')}:[/] {escape(step.testdata)}")
        c.print(f"[bold]{say(lang, 'expected')}:[/] {escape(step.expected.get(lang))}")
        verdict = Prompt.ask(
            say(lang, "assessment"), choices=[*VERDICTS, SKIP], default="OK", console=c
        )
        if verdict == SKIP:
            return None
        for _ in range(MAX_TRIES):
            if self.tester.strip():
                break
            self.tester = Prompt.ask(say(lang, "answered_by"), default="", console=c).strip()
        note = Prompt.ask(say(lang, "note"), default="", console=c)
        files: list[Attachment] = []
        for _ in range(MAX_TRIES):
            text = Prompt.ask(say(lang, "attachments"), default="", console=c)
            paths = [Path(p.strip()).expanduser() for p in text.split(",") if p.strip()]
            missing = [str(p) for p in paths if not p.is_file()]
            if missing:
                c.print(f"[red]{say(lang, 'not_found')}:[/] {escape(', '.join(missing))}")
                continue
            try:
                files = [Attachment(p.name, read_limited(p, MAX_ATTACHMENT_BYTES)) for p in paths]
            except InputFileError as exc:
                c.print(f"[red]{escape(exc.reason)}[/]")
                continue
            break
        # the time the tester gave the answer, not when the run was started or written
        return ManualAnswer(
            protocol.id, case.id, step.id, verdict, note, self.tester, now_iso(), tuple(files)
        )


class _NoDisplay:
    """No display to pause."""

    def pause(self) -> None:
        return None

    def resume(self) -> None:
        return None
