"""`kcert connectathon demo` (`make connectathon-demo`): a whole connectathon on one machine.

Six reference LPS instances play six vendors (two clean, four with defect sets drawn from the
scenarios' catches, `demoplan`), kcert simulates the other roles (municipality, document
repository, viewer), the recording proxy stands in front of all of them, every scenario runs
for every system, and the web application shows the matrix on 127.0.0.1 until Ctrl-C or
`--exit-after` seconds.

The session lives in a SQLite run store of its own under the demo's reports folder
(reports/connectathon-demo/ by default), made afresh each time: the folder is emptied first,
but only when it is one the demo made (it holds `DEMO_MARKER`) or is empty, so pointing
`--reports` at another folder never deletes anything.

Accounts: an admin and a monitor, each with a password generated for this demo. The passwords
are printed once on the console and nowhere else (no file, no log, not in the store: only their
argon2 hashes are); a demo's store is thrown away with the next demo.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from rich.console import Console
from rich.markup import escape

from harness.connectathon.accounts import new_account
from harness.connectathon.api import StoreApi
from harness.connectathon.demoplan import DemoVendor, demo_plan
from harness.connectathon.fleet import FleetMember, running_fleet
from harness.connectathon.model import ScenarioInfo, System
from harness.connectathon.orchestrate import (
    RunSummary,
    console_progress,
    print_summary,
    run_session,
)
from harness.connectathon.runwords import console_lang, grade_word, say

DEMO_FOLDER = "connectathon-demo"
DEMO_MARKER = ".kcert-connectathon-demo"
STORE_FILE = "kcert-runs.sqlite"
SESSION_NAME = "kcert demo connectathon"
DEMO_ACCOUNTS = (("admin", "admin"), ("monitor", "monitor"))
SERVER_START_TIMEOUT_S = 15.0
SERVER_STOP_TIMEOUT_S = 10.0
MAX_EXIT_AFTER_S = 7 * 24 * 3600.0
DEMO_TIME_LIMIT_S = 1800.0  # every instance of the demo run, or it stops starting new ones


class DemoError(RuntimeError):
    """The demo cannot run (its folder belongs to something else, the web app did not come
    up); the text says what to do."""


@dataclass(frozen=True)
class Mismatch:
    system_id: str
    scenario_id: str
    expected: str  # grade
    got: str  # grade, or "missing"


@dataclass
class DemoRun:
    store: StoreApi
    session_id: str
    plan: list[DemoVendor]
    scenarios: list[ScenarioInfo]
    passwords: dict[str, str] = field(repr=False)  # username → password, for the console only
    summary: RunSummary | None = None
    mismatches: list[Mismatch] = field(default_factory=list)


def demo_folder(reports: Path | None) -> Path:
    """--reports, or the suite's reports folder's connectathon-demo/."""
    if reports is not None:
        return reports
    from harness.suitefiles import reports_dir

    return reports_dir() / DEMO_FOLDER


def fresh_folder(folder: Path) -> None:
    """Empty the demo's folder for a new demo, only if the demo made it (or it is empty)."""
    if folder.exists():
        if not folder.is_dir():
            raise DemoError(f"{folder} is not a folder; give the demo another --reports")
        if any(folder.iterdir()) and not (folder / DEMO_MARKER).is_file():
            raise DemoError(
                f"{folder} holds files the demo did not write; give the demo an empty or new "
                "--reports folder"
            )
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / DEMO_MARKER).write_text(
        "made by kcert connectathon demo; emptied by the next demo\n", encoding="utf-8"
    )


def expected_grades(
    plan: Sequence[DemoVendor], scenarios: Sequence[ScenarioInfo]
) -> dict[tuple[str, str], str]:
    """(system, scenario) → the grade the plan expects: failed where its defects lie."""
    return {
        (v.system_id, s.scenario_id): "failed" if s.scenario_id in v.expected_failed else "verified"
        for v in plan
        for s in scenarios
    }


def compare(store: StoreApi, session_id: str, run: DemoRun) -> list[Mismatch]:
    """Every (system, scenario) whose matrix cells differ from the plan: a failed count where
    failed is expected, else only verified counts."""
    cells = store.matrix(session_id)
    got: dict[tuple[str, str], dict[str, int]] = {}
    for cell in cells:
        counts = got.setdefault((cell.system_id, cell.scenario_id), {})
        for grade in ("verified", "waiting", "partial", "failed"):
            counts[grade] = counts.get(grade, 0) + int(getattr(cell, grade))
    mismatches = []
    for (system_id, scenario_id), expected in expected_grades(run.plan, run.scenarios).items():
        found = got.get((system_id, scenario_id))
        if not found or not any(found.values()):
            mismatches.append(Mismatch(system_id, scenario_id, expected, "missing"))
            continue
        if expected == "failed":
            ok = found["failed"] > 0
        else:
            ok = found["verified"] > 0 and not (
                found["failed"] or found["partial"] or found["waiting"]
            )
        if not ok:
            seen = "/".join(f"{k}={v}" for k, v in found.items() if v)
            mismatches.append(Mismatch(system_id, scenario_id, expected, seen))
    return mismatches


def add_accounts(store: StoreApi) -> dict[str, str]:
    """The demo's admin and monitor, with fresh random passwords (returned, never stored)."""
    passwords = {}
    for username, role in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)  # 16 characters, ~96 bits
        store.add_account(new_account(username, role, password))
        passwords[username] = password
    return passwords


def register(
    store: StoreApi, session_id: str, plan: Sequence[DemoVendor], members: Sequence[FleetMember]
) -> list[System]:
    systems = []
    for vendor, member in zip(plan, members, strict=True):
        system = System(
            system_id=vendor.system_id,
            session_id=session_id,
            vendor=vendor.vendor,
            product=vendor.product,
            version=member.spec.version,
            roles=vendor.roles,
            registration=member.registration,
        )
        store.register_system(system)
        systems.append(system)
    return systems


def build_demo(
    folder: Path,
    *,
    lang: str = "da",
    console: Console | None = None,
    time_limit: float = DEMO_TIME_LIMIT_S,
    scenario_root: Path | None = None,
) -> DemoRun:
    """Everything but the web app: fresh store, accounts, fleet, registration, pairing, run.
    The fleet is stopped again once every instance has run; the store stays open."""
    from harness.connectathon.pairing import pair_session
    from harness.connectathon.scenario.load import scenario_infos
    from harness.connectathon.store import ConnectathonStore

    out: Callable[[str], None] = (
        (lambda line: console.print(escape(line), highlight=False)) if console else (lambda _: None)
    )
    fresh_folder(folder)
    store = ConnectathonStore(f"sqlite:///{(folder / STORE_FILE).resolve()}")
    try:
        scenarios = scenario_infos(root=scenario_root)
        plan = demo_plan(scenarios)
        today = dt.date.today()
        session = store.create_session(
            SESSION_NAME,
            today.isoformat(),
            (today + dt.timedelta(days=1)).isoformat(),
            [s.scenario_id for s in scenarios],
        )
        out(say(lang, "demo_store", session=session.session_id, store=folder / STORE_FILE))
        run = DemoRun(store, session.session_id, plan, scenarios, add_accounts(store))
        out(say(lang, "fleet", n=len(plan)))
        t0 = time.monotonic()
        with running_fleet([v.member() for v in plan]) as members:
            out(say(lang, "fleet_up", n=len(members), seconds=time.monotonic() - t0))
            register(store, session.session_id, plan, members)
            paired = pair_session(store, session.session_id, scenarios)
            out(say(lang, "paired", n=len(paired.instances)))
            run.summary = run_session(
                store,
                session.session_id,
                reports=folder,
                time_limit=time_limit,
                progress=console_progress(console, lang) if console else None,
                announce=out,
                lang=lang,
            )
        if console:
            print_summary(console, run.summary, lang)
        run.mismatches = compare(store, session.session_id, run)
        return run
    except BaseException:
        store.close()
        raise


@contextlib.contextmanager
def serving(app: Any, port: int) -> Iterator[str]:
    """The web app on 127.0.0.1:`port` (0: a free one) in a thread of this process, for as
    long as the block runs; yields its base URL. Start and stop are bounded."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise DemoError(f"127.0.0.1:{port} cannot be used ({exc}); give another --port") from None
    bound = sock.getsockname()[1]
    # open live-update streams (a browser left on the matrix) get 2 s at stop, not forever
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="kcert-demo-web", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        if not server.started:
            raise DemoError(f"the web app did not start within {SERVER_START_TIMEOUT_S:.0f} s")
        yield f"http://127.0.0.1:{bound}"
    finally:
        server.should_exit = True
        thread.join(SERVER_STOP_TIMEOUT_S)
        sock.close()


def matrix_path(session_id: str) -> str:
    """The web app's matrix page of a session."""
    return f"/sessions/{quote(session_id, safe='')}"


def matrix_url(base: str, session_id: str) -> str:
    return base + matrix_path(session_id)


_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_login(session: requests.Session, base: str, username: str, password: str) -> None:
    """Log in to the web app as a browser does (the login form's CSRF token echoed); for
    the demo's test and the benchmark, which read pages behind the login."""
    page = session.get(f"{base}/login", timeout=30)
    found = _CSRF_FIELD.search(page.text)
    if page.status_code != 200 or not found:
        raise DemoError(f"{base}/login gave no login form (HTTP {page.status_code})")
    answer = session.post(
        f"{base}/login",
        data={
            "csrf_token": found.group(1),
            "username": username,
            "password": password,
            "next": "/",
        },
        timeout=30,
        allow_redirects=False,
    )
    if answer.status_code not in (302, 303):
        raise DemoError(f"login as {username} refused (HTTP {answer.status_code})")


def report_plan(console: Console, run: DemoRun, lang: str) -> None:
    clean = sum(1 for v in run.plan if v.clean)
    console.print(say(lang, "expected", clean=clean, defective=len(run.plan) - clean))
    for vendor in run.plan:
        line = say(
            lang,
            "plan_line",
            system=vendor.system_id,
            defects=", ".join(vendor.defects) or "-",
            failing=", ".join(vendor.expected_failed) or "-",
        )
        console.print(escape(line), highlight=False)
    if not run.mismatches:
        console.print(f"[green]{escape(say(lang, 'demo_ok', n=len(run.plan)))}[/]")
    for m in run.mismatches:
        text = say(
            lang,
            "demo_off",
            system=m.system_id,
            scenario=m.scenario_id,
            expected=grade_word(m.expected, lang),
            got=m.got,
        )
        console.print(f"[red]{escape(text)}[/]", highlight=False)


def wait(exit_after: float | None) -> None:
    """Until Ctrl-C, or `exit_after` seconds (bounded)."""
    if exit_after is None:
        while True:
            time.sleep(3600)
    time.sleep(min(max(0.0, exit_after), MAX_EXIT_AFTER_S))


def demo_command(args: argparse.Namespace, console: Console | None = None) -> int:
    """kcert connectathon demo [--port 8765] [--exit-after SECONDS] [--lang da|en]."""
    from harness.connectathon.web.app import create_app

    console = console or Console(highlight=False, soft_wrap=True)
    lang = console_lang(getattr(args, "lang", None))
    reports = getattr(args, "reports", None)
    folder = demo_folder(Path(reports) if reports else None)
    if getattr(args, "store", None):
        console.print(say(lang, "no_store", folder=folder), highlight=False, markup=False)
        return 2
    try:
        run = build_demo(folder, lang=lang, console=console)
    except DemoError as exc:
        console.print(f"kcert: {exc}", highlight=False, markup=False)
        return 2
    try:
        console.print(say(lang, "accounts"))
        for username, role in DEMO_ACCOUNTS:
            console.print(
                escape(
                    say(
                        lang,
                        "account",
                        role=role,
                        username=username,
                        password=run.passwords[username],
                    )
                ),
                highlight=False,
            )
        run.passwords.clear()
        report_plan(console, run, lang)
        app = create_app(
            run.store,
            lang=lang,
            scenarios={s.scenario_id: s for s in run.scenarios},
            default_session=run.session_id,
        )
        port = int(getattr(args, "port", 8765))
        exit_after = getattr(args, "exit_after", None)
        try:
            with serving(app, port) as base:
                console.print(say(lang, "matrix", url=matrix_url(base, run.session_id)))
                if exit_after is None:
                    console.print(say(lang, "serving", url=base))
                else:
                    console.print(say(lang, "serving_for", url=base, seconds=float(exit_after)))
                try:
                    wait(None if exit_after is None else float(exit_after))
                except KeyboardInterrupt:
                    console.print(say(lang, "stopped"))
        except DemoError as exc:
            console.print(f"kcert: {exc}", highlight=False, markup=False)
            return 2
        if run.summary and run.summary.errors:
            return 1
        return 1 if run.mismatches else 0
    finally:
        run.store.close()
