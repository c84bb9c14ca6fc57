"""What a transport offers is an explicit protocol checked with isinstance; no getattr probes.

The engine side (runner, testscript, checks, session, front doors) must never ask an object
whether it happens to have an attribute (`getattr(transport, "take_inbound", None)`): a
renamed method would silently turn a replay into a live run. The grep below fails as soon as
such a probe comes back.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from harness.fixtures import REPO_ROOT
from harness.runner.attended import AnswerBook, FirstOf, Pausable
from harness.sut.reference import reference_config
from harness.transport.capabilities import (
    HttpSession,
    InboundRecord,
    InProcessApp,
    SideChannelRecord,
)
from harness.transport.http import HttpTransport
from harness.transport.inprocess import InProcessTransport
from harness.transport.replay import ReplayTransport

ENGINE = [
    REPO_ROOT / "harness" / name
    for name in ("runner", "testscript", "checks", "session", "cli", "pytest_plugin.py")
]
# what a transport or an answer source offers: never probed by name
CAPABILITY_NAMES = frozenset(
    {"take_inbound", "take_recorded", "app", "session", "client", "pause", "resume", "preset"}
)
PROBED = ("transport", "answers", "source")  # objects whose capabilities are protocols


def probes(source: str, filename: str = "<source>") -> list[str]:
    """`getattr`/`hasattr` calls that probe an object for a capability."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr")
            and len(node.args) >= 2
        ):
            continue
        target = ast.unparse(node.args[0])
        name = node.args[1]
        named = isinstance(name, ast.Constant) and name.value in CAPABILITY_NAMES
        if named or any(word in target for word in PROBED):
            found.append(f"{filename}:{node.lineno}: {ast.unparse(node)}")
    return found


def engine_files() -> list[Path]:
    files: list[Path] = []
    for root in ENGINE:
        files.extend([root] if root.is_file() else sorted(root.rglob("*.py")))
    return files


def test_no_capability_probe_remains_in_the_engine() -> None:
    files = engine_files()
    assert len(files) > 30  # the grep saw the engine, not an empty folder
    found = [p for path in files for p in probes(path.read_text(encoding="utf-8"), str(path))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "snippet",
    [
        'take = getattr(ctx.transport, "take_inbound", None)',
        'if hasattr(state.transport, "whatever"): pass',
        'app = getattr(transport, "app", None)',
        'pause = getattr(self.answers, "pause", None)',
        'preset = list(getattr(source, "preset", []))',
    ],
)
def test_the_probe_grep_fires(snippet: str) -> None:
    assert probes(snippet)


@pytest.mark.parametrize(
    "snippet",
    [
        'lang = str(getattr(args, "lang", "da"))',
        'module = getattr(entry.func, "__module__", "")',
        "if isinstance(ctx.transport, InboundRecord): pass",
    ],
)
def test_the_probe_grep_keeps_quiet(snippet: str) -> None:
    assert not probes(snippet)


def test_each_transport_offers_exactly_what_it_has() -> None:
    from harness.reflps.app import create_app

    config = reference_config("http://reference.invalid", (), "inprocess")
    replay = ReplayTransport(config, {})
    inprocess = InProcessTransport(config, create_app(()))
    http = HttpTransport(config)
    try:
        assert isinstance(replay, InboundRecord) and isinstance(replay, SideChannelRecord)
        assert not isinstance(replay, InProcessApp) and not isinstance(replay, HttpSession)
        assert isinstance(inprocess, InProcessApp)
        assert not isinstance(inprocess, InboundRecord | SideChannelRecord | HttpSession)
        assert isinstance(http, HttpSession)
        assert not isinstance(http, InboundRecord | SideChannelRecord | InProcessApp)
    finally:
        inprocess.close()
        http.close()


def test_answer_sources_are_told_about_the_display_and_say_their_preset() -> None:
    from rich.console import Console

    from harness.cli.prompter import ConsolePrompter
    from harness.model.answer import ManualAnswer

    class Display:
        def __init__(self) -> None:
            self.calls: list[str] = []

        def pause(self) -> None:
            self.calls.append("pause")

        def resume(self) -> None:
            self.calls.append("resume")

    known = ManualAnswer("p", "c", "s", "OK", "", "Tove Tester", "")
    prompter = ConsolePrompter(Console(), "Tove Tester")
    both = FirstOf(AnswerBook([known]), prompter)
    display = Display()
    assert isinstance(display, Pausable)
    both.attach(display)
    assert prompter.display is display  # passed on to the source that asks
    assert both.preset == [known] and prompter.preset == []
