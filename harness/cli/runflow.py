"""CLI glue around the run path (`harness.session.runpath`): the progress display, the
prompter's pauses, where a configured peer listens, and the run path's errors as `kcert:
error: …` (exit 2)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.cli.progress import ProgressDisplay
from harness.cli.words import say
from harness.model.result import RunResult
from harness.session import runpath
from harness.store.runstore import RunStore
from harness.sut.config import SutConfig
from harness.sut.peer_config import PeerConfig


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """The run path's typed errors as the CLI's one usage problem: a message, no traceback."""
    try:
        yield
    except runpath.RunPathError as exc:
        raise UsageProblem(str(exc)) from None


def open_store(url: str | None, reports: Any) -> RunStore:
    with translated():
        return runpath.open_store(url, reports)


def reporting(console: Console, args: Any, waivers: list[Any]) -> runpath.Reporting:
    """The report options every command shares, with the console's "writing …" status."""

    def writing(run: RunResult) -> Any:
        return console.status(say(run.lang, "writing_pdf" if args.pdf else "writing"))

    return runpath.Reporting(args.reports, pdf=args.pdf, waivers=waivers, writing=writing)


def run_and_report(
    console: Console, store: RunStore, plan: runpath.RunPlan, report: runpath.Reporting
) -> runpath.Outcome:
    """The run path with the terminal's progress display and peer announcement."""
    lang = plan.options.lang
    display = ProgressDisplay(console, lang)
    if plan.answers is not None:
        # a source that asks at the terminal makes the progress bar step aside meanwhile
        plan.answers.attach(display)
    with translated():
        return runpath.run_and_report(
            store, plan, report, display, lambda sut: announce_peer(console, sut.peer, lang)
        )


def announce_peer(console: Console, peer: PeerConfig, lang: str) -> None:
    """Where a configured peer listens: what the vendor's firewall must let through."""
    if peer == PeerConfig():
        return
    mode = "peer_mtls" if peer.client_ca else "peer_tls" if peer.tls else "peer_http"
    bind = peer.public_dict()["bind"]
    url = peer.advertise or f"{'https' if peer.tls else 'http'}://{bind}"
    console.print(say(lang, "peer", url=url, bind=bind, mode=say(lang, mode)), highlight=False)


__all__ = ["SutConfig", "announce_peer", "open_store", "reporting", "run_and_report", "translated"]
