"""`kcert connectathon run`: a session's test instances still to run, through the proxy.

Still to run: pending (not run yet) or ended in an error (it could not run; its grade still
waits); `--instance` names others to run again.

For one run of a session: the recording proxy is put in front of every registered system's
endpoints and of every simulated role's peer port (kcert's own receiving side, bound by the
instance's run on the port given here), the routes the instances use are built from the
proxy's listen URLs, and the instances run one at a time (a simulated role's peer has one
port for the whole run) through `harness.connectathon.execute.run_instance`. An instance that
raises is marked `error` with its reason and the others go on. The time limit is checked
before each instance starts; one that has started finishes (its own waits are bounded by the
engine), the rest stay pending for the next run.

Routing: the proxy fronts a system at the origin (scheme://host:port) of its agent endpoint,
so every endpoint on that origin (the test agent API and the FHIR endpoint of one server) is
reached through the one proxy port, paths unaltered; `Routes.sut_urls` holds the agent URL
with its origin swapped for the proxy's.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.markup import escape

from harness.connectathon.api import StoreApi
from harness.connectathon.execute import Routes, run_instance
from harness.connectathon.model import SIMULATED, System, TestInstance
from harness.connectathon.proxy import EndpointSpec, RecordingProxy
from harness.connectathon.registration import sut_choice
from harness.connectathon.runwords import console_lang, grade_word, outcome_word, say
from harness.dates import now_iso
from harness.session.sut import SutChoiceError
from harness.sut.reference import free_port

MAX_INSTANCES = 5000  # one run of one session; a connectathon has a few hundred
MAX_REASON = 500  # characters of an error's text kept on the instance


class RunProblem(ValueError):
    """The run cannot start (unknown session or instance); the text says which."""


@dataclass
class InstanceReport:
    instance: TestInstance
    seconds: float
    error: str = ""


@dataclass
class RunSummary:
    session_id: str
    reports: list[InstanceReport] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)  # instance ids left for the time limit
    seconds: float = 0.0

    @property
    def errors(self) -> list[InstanceReport]:
        return [r for r in self.reports if r.error or r.instance.status == "error"]

    def exit_code(self) -> int:
        """0: every instance ran; 1: one ended in an error; 3: some were not started."""
        if self.errors:
            return 1
        return 3 if self.not_started else 0


Progress = Callable[[int, int, InstanceReport], None]


def agent_url(system: System) -> str | None:
    """The agent endpoint a registration names; None for a registration without one (the
    embedded reference LPS, which the instance's own session starts and reaches itself)."""
    try:
        choice = sut_choice(system)  # its relative files in the folder of its systems YAML
        if choice.reference:
            return None
        return choice.configured(credentials=False).endpoint("agent")
    except (SutChoiceError, ValueError):
        return None  # run_instance reports a registration it cannot use on the instance


def origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))


def swap_origin(url: str, new_origin: str) -> str:
    """`url` with its scheme://host:port replaced: the same path on another server."""
    parts = urlsplit(url)
    target = urlsplit(new_origin)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def simulated_roles(instances: Sequence[TestInstance]) -> list[str]:
    """Every role kcert plays in these instances, sorted (one peer port each)."""
    return sorted({b.role for i in instances for b in i.bindings if b.system_id == SIMULATED})


def endpoint_specs(
    systems: Sequence[System], peer_ports: dict[str, int]
) -> tuple[list[EndpointSpec], dict[str, str]]:
    """The proxy's endpoints (one per system role, one per simulated role) and, for each
    system the proxy fronts, the endpoint id kcert reaches its agent through."""
    specs: list[EndpointSpec] = []
    agent_endpoint: dict[str, str] = {}
    for system in systems:
        url = agent_url(system)
        if url is None:
            continue
        for index, role in enumerate(system.roles):
            spec = EndpointSpec(system.system_id, role, origin(url))
            specs.append(spec)
            if index == 0:
                agent_endpoint[system.system_id] = spec.endpoint_id
    for role, port in sorted(peer_ports.items()):
        specs.append(EndpointSpec(SIMULATED, role, f"http://127.0.0.1:{port}"))
    return specs, agent_endpoint


def direct_routes(systems: Sequence[System], peer_ports: dict[str, int]) -> Routes:
    """The routes without a proxy: kcert and the systems talk to each other directly."""
    sut_urls = {s.system_id: url for s in systems if (url := agent_url(s)) is not None}
    peer_urls = {role: f"http://127.0.0.1:{port}" for role, port in peer_ports.items()}
    return Routes(sut_urls=sut_urls, peer_ports=dict(peer_ports), peer_urls=peer_urls)


def proxied_routes(
    proxy: RecordingProxy,
    systems: Sequence[System],
    peer_ports: dict[str, int],
    agent_endpoint: dict[str, str],
) -> Routes:
    by_id = {s.system_id: s for s in systems}
    sut_urls = {}
    for system_id, endpoint_id in agent_endpoint.items():
        url = agent_url(by_id[system_id])
        assert url is not None  # only systems with an agent URL have an endpoint
        sut_urls[system_id] = swap_origin(url, proxy.url_for(endpoint_id))
    peer_urls = {role: proxy.url_for(f"{SIMULATED}:{role}") for role in peer_ports}
    return Routes(sut_urls=sut_urls, peer_ports=dict(peer_ports), peer_urls=peer_urls)


RUNNABLE = ("pending", "error")  # not run yet, or it could not run (its grade still waits)


def select_instances(
    store: StoreApi, session_id: str, instance_ids: Sequence[str] = (), lang: str = "da"
) -> list[TestInstance]:
    """The named instances (in any state: a named one is run again), or every one not run
    yet or ended in an error, in pairing order. One still `running` is left alone: another
    `run` may be at it."""
    try:
        store.session(session_id)
    except KeyError:
        raise RunProblem(say(lang, "unknown_session", id=session_id)) from None
    instances = store.instances(session_id)
    if instance_ids:
        by_id = {i.instance_id: i for i in instances}
        missing = [i for i in instance_ids if i not in by_id]
        if missing:
            raise RunProblem(say(lang, "unknown_instance", id=missing[0], session=session_id))
        chosen = [by_id[i] for i in dict.fromkeys(instance_ids)]
    else:
        chosen = [i for i in instances if i.status in RUNNABLE]
    if len(chosen) > MAX_INSTANCES:
        raise RunProblem(f"{len(chosen)} instances in one run; at most {MAX_INSTANCES}")
    return chosen


def run_session(
    store: StoreApi,
    session_id: str,
    *,
    reports: Path,
    instance_ids: Sequence[str] = (),
    proxy: bool = True,
    time_limit: float | None = None,
    progress: Progress | None = None,
    announce: Callable[[str], None] | None = None,
    lang: str = "da",
) -> RunSummary:
    """Run the session's pending (or named) instances; see the module's text."""
    started = time.monotonic()
    deadline = None if time_limit is None else started + max(0.0, time_limit)
    instances = select_instances(store, session_id, instance_ids, lang)
    summary = RunSummary(session_id)
    if not instances:
        return summary
    systems = store.systems(session_id)
    peer_ports = {role: free_port() for role in simulated_roles(instances)}
    with ExitStack() as stack:
        if proxy:
            specs, agent_endpoint = endpoint_specs(systems, peer_ports)
            recording = RecordingProxy(store, session_id, specs)
            stack.enter_context(recording)
            routes = proxied_routes(recording, systems, peer_ports, agent_endpoint)
            if announce:
                announce(say(lang, "proxy", n=len(specs)))
        else:
            routes = direct_routes(systems, peer_ports)
            if announce:
                announce(say(lang, "no_proxy"))
        for index, instance in enumerate(instances, 1):
            if deadline is not None and time.monotonic() >= deadline:
                summary.not_started = [i.instance_id for i in instances[index - 1 :]]
                break
            report = _run_one(store, instance, reports=reports, routes=routes)
            summary.reports.append(report)
            if progress:
                progress(index, len(instances), report)
    summary.seconds = time.monotonic() - started
    return summary


def _run_one(
    store: StoreApi, instance: TestInstance, *, reports: Path, routes: Routes
) -> InstanceReport:
    t0 = time.monotonic()
    try:
        done = run_instance(
            store, instance.instance_id, reports=reports, store_url=store.url, routes=routes
        )
        return InstanceReport(done, time.monotonic() - t0)
    except Exception as exc:  # one instance's failure must not stop the others
        reason = f"{type(exc).__name__}: {exc}"[:MAX_REASON]
        failed = _mark_error(store, instance, reason)
        return InstanceReport(failed, time.monotonic() - t0, reason)


def _mark_error(store: StoreApi, instance: TestInstance, reason: str) -> TestInstance:
    try:
        current = store.instance(instance.instance_id)
    except KeyError:
        current = instance
    failed = replace(current, status="error", outcome="error", reason=reason, finished=now_iso())
    # the store itself may be what failed; the console still says why
    with contextlib.suppress(Exception):
        store.update_instance(failed)
    return failed


def _systems_text(instance: TestInstance) -> str:
    names = [b.system_id for b in instance.bindings if b.system_id != SIMULATED]
    return ", ".join(names) or SIMULATED


def console_progress(console: Console, lang: str) -> Progress:
    def show(index: int, total: int, report: InstanceReport) -> None:
        inst = report.instance
        if report.error or inst.status == "error":
            text = say(
                lang,
                "error_line",
                i=index,
                n=total,
                scenario=inst.scenario_id,
                systems=_systems_text(inst),
                reason=report.error or inst.reason,
            )
            console.print(f"[magenta]{escape(text)}[/]", highlight=False)
            return
        colour = {"verified": "green", "failed": "red", "partial": "yellow"}.get(inst.grade, "")
        text = say(
            lang,
            "line",
            i=index,
            n=total,
            scenario=inst.scenario_id,
            systems=_systems_text(inst),
            grade=grade_word(inst.grade, lang),
            outcome=outcome_word(inst.outcome, lang),
            seconds=report.seconds,
        )
        console.print(f"[{colour}]{escape(text)}[/]" if colour else escape(text), highlight=False)

    return show


def print_summary(console: Console, summary: RunSummary, lang: str) -> None:
    if summary.not_started:
        console.print(say(lang, "time_up", seconds=summary.seconds, n=len(summary.not_started)))
    console.print(
        say(
            lang,
            "summary",
            done=len(summary.reports) - len(summary.errors),
            errors=len(summary.errors),
            left=len(summary.not_started),
            seconds=summary.seconds,
        ),
        highlight=False,
    )


def run_command(args: argparse.Namespace, console: Console | None = None) -> int:
    """kcert connectathon run --session ID [--instance ID ...] [--no-proxy] [--time-limit S]."""
    from harness.connectathon.store import open_connectathon_store

    console = console or Console(highlight=False, soft_wrap=True)
    lang = console_lang(getattr(args, "lang", None))
    reports = Path(args.reports)
    store = open_connectathon_store(getattr(args, "store", None), reports)
    try:
        try:
            named = getattr(args, "instance", None) or ()
            instances = select_instances(store, args.session, named, lang)
        except RunProblem as exc:
            console.print(f"kcert: {exc}", highlight=False, markup=False)
            return 2
        if not instances:
            console.print(say(lang, "nothing", session=args.session), highlight=False)
            return 0
        console.print(say(lang, "instances", n=len(instances), session=args.session))
        summary = run_session(
            store,
            args.session,
            reports=reports,
            instance_ids=[i.instance_id for i in instances],
            proxy=not getattr(args, "no_proxy", False),
            time_limit=getattr(args, "time_limit", None),
            progress=console_progress(console, lang),
            announce=lambda line: console.print(line, highlight=False),
            lang=lang,
        )
        print_summary(console, summary, lang)
        return summary.exit_code()
    finally:
        store.close()
