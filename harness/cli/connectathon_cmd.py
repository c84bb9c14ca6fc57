"""`kcert connectathon session|register|pair|accounts|export|dossier`, and the hand-over of
`serve`, `run` and `demo` to the connectathon's web, orchestrate and demo modules.

Every failure a user can cause (an unknown id, a broken systems YAML at file:line, a store
that cannot be opened) ends as `kcert: fejl: …` with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.connectathon.accounts import AccountError, new_account
from harness.connectathon.export import (
    instance_record,
    masked_json,
    matrix_csv,
    matrix_rows,
    session_record,
)
from harness.connectathon.pairing import PairingError, pair_session
from harness.connectathon.registration import load_systems
from harness.connectathon.store import ConnectathonStore, StoreError, open_connectathon_store
from harness.dossier.manifest import DossierError
from harness.yamlsource import SourceError

PASSWORD_ENV = "KCERT_PASSWORD"

WORDS: dict[str, dict[str, str]] = {
    "da": {
        "session_created": "session {id} oprettet: {name}, {starts} – {ends}, {n} scenarie(r)",
        "sessions": "{n} session(er) i {store}",
        "registered": "registreret i {session}: {id} "
        "({vendor} {product} {version}; roller {roles})",
        "paired": "{n} nye testinstanser i {session} ({total} i alt)",
        "unpaired": "ingen instans af {scenario} for {role}: {reason}",
        "account_saved": "konto {username} ({role}) gemt",
        "password_prompt": "Adgangskode til {username}: ",
        "password_again": "Gentag adgangskoden: ",
        "password_differ": "adgangskoderne er ikke ens",
        "password_missing": "ingen adgangskode: sæt {env} eller kør kommandoen ved en terminal",
        "exported": "skrevet: {path}",
        "dossier": "dossier skrevet og signeret: {path}",
        "verify_with": "kontrollér det med: kcert verify {path}",
        "not_built": "kcert connectathon {command} er ikke med i denne udgave ({module} mangler)",
    },
    "en": {
        "session_created": "session {id} created: {name}, {starts} – {ends}, {n} scenario(s)",
        "sessions": "{n} session(s) in {store}",
        "registered": "registered in {session}: {id} ({vendor} {product} {version}; roles {roles})",
        "paired": "{n} new test instances in {session} ({total} in all)",
        "unpaired": "no instance of {scenario} for {role}: {reason}",
        "account_saved": "account {username} ({role}) saved",
        "password_prompt": "Password for {username}: ",
        "password_again": "Repeat the password: ",
        "password_differ": "the passwords differ",
        "password_missing": "no password: set {env} or run the command at a terminal",
        "exported": "written: {path}",
        "dossier": "dossier written and signed: {path}",
        "verify_with": "check it with: kcert verify {path}",
        "not_built": "kcert connectathon {command} is not part of this build ({module} missing)",
    },
}


def say(lang: str, key: str, **values: object) -> str:
    return WORDS["en" if lang == "en" else "da"][key].format(**values)


@contextmanager
def _store(args: argparse.Namespace) -> Iterator[ConnectathonStore]:
    """The store the options name; the errors a user can cause become UsageProblems."""
    try:
        store = open_connectathon_store(args.store, args.reports)
    except StoreError as exc:
        raise UsageProblem(str(exc)) from None
    try:
        yield store
    except StoreError as exc:
        raise UsageProblem(str(exc)) from None
    except KeyError as exc:  # an unknown session, system or instance
        raise UsageProblem(str(exc.args[0]) if exc.args else "not found") from None
    except ValueError as exc:  # a value the store refuses (dates, grades, sizes)
        raise UsageProblem(str(exc)) from None
    finally:
        store.close()


def _print(console: Console, text: str) -> None:
    console.print(text, markup=False, highlight=False, emoji=False)


def _scenario_infos(ids: list[str] | None) -> list[Any]:
    """The suite's scenarios (all, or the ids named), as pairing and the matrix need them."""
    from harness.connectathon.scenario.load import ScenarioError, UnknownScenario, scenario_infos

    try:
        return scenario_infos(ids or None)
    except (ScenarioError, UnknownScenario) as exc:
        raise UsageProblem(str(exc)) from None


# -- session, register, pair, accounts -------------------------------------------------------


def run_session_create(args: argparse.Namespace, console: Console) -> int:
    infos = _scenario_infos(args.scenario)
    with _store(args) as store:
        session = store.create_session(
            args.name,
            args.starts.isoformat(),
            args.ends.isoformat(),
            [i.scenario_id for i in infos],
        )
    _print(
        console,
        say(
            args.lang,
            "session_created",
            id=session.session_id,
            name=session.name,
            starts=session.starts,
            ends=session.ends,
            n=len(session.scenarios),
        ),
    )
    return 0


def run_session_list(args: argparse.Namespace, console: Console) -> int:
    from harness.store.runstore import display_url

    with _store(args) as store:
        sessions = store.sessions()
        where = display_url(store.url)
    for s in sessions:
        _print(console, f"{s.session_id}  {s.starts} – {s.ends}  {s.name}  ({len(s.scenarios)})")
    _print(console, say(args.lang, "sessions", n=len(sessions), store=where))
    return 0


def run_register(args: argparse.Namespace, console: Console) -> int:
    with _store(args) as store:
        session = store.session(args.session)
        try:
            systems = load_systems(args.file, session.session_id)
        except SourceError as exc:
            raise UsageProblem(str(exc)) from None
        for system in systems:
            store.register_system(system)
            _print(
                console,
                say(
                    args.lang,
                    "registered",
                    session=session.session_id,
                    id=system.system_id,
                    vendor=system.vendor,
                    product=system.product,
                    version=system.version,
                    roles=", ".join(system.roles),
                ),
            )
    return 0


def run_pair(args: argparse.Namespace, console: Console) -> int:
    with _store(args) as store:
        session = store.session(args.session)
        infos = _scenario_infos(list(session.scenarios))
        try:
            result = pair_session(store, session.session_id, infos)
        except PairingError as exc:
            raise UsageProblem(str(exc)) from None
        total = len(store.instances(session.session_id))
    for unpaired in result.unpaired:
        _print(
            console,
            say(
                args.lang,
                "unpaired",
                scenario=unpaired.scenario_id,
                role=unpaired.role or "-",
                reason=unpaired.reason,
            ),
        )
    _print(
        console,
        say(args.lang, "paired", n=len(result.instances), session=session.session_id, total=total),
    )
    return 0


def run_accounts_add(args: argparse.Namespace, console: Console) -> int:
    password = _password(args)
    try:
        account = new_account(args.username, args.role, password, args.vendor)
    except AccountError as exc:
        raise UsageProblem(str(exc)) from None
    with _store(args) as store:
        store.add_account(account)
    _print(console, say(args.lang, "account_saved", username=account.username, role=account.role))
    return 0


def _password(args: argparse.Namespace) -> str:
    """KCERT_PASSWORD, else asked twice at the terminal (never an option: shells log those)."""
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    if not sys.stdin.isatty():
        raise UsageProblem(say(args.lang, "password_missing", env=PASSWORD_ENV))
    first = getpass.getpass(say(args.lang, "password_prompt", username=args.username))
    if getpass.getpass(say(args.lang, "password_again")) != first:
        raise UsageProblem(say(args.lang, "password_differ"))
    return first


# -- export and dossier ----------------------------------------------------------------------


def run_export(args: argparse.Namespace, console: Console) -> int:
    with _store(args) as store:
        if args.instance:
            text = masked_json(instance_record(store, args.instance))
        elif args.format == "csv":
            text = matrix_csv(
                matrix_rows(store, store.session(args.session).session_id, lang=args.lang)
            )
        else:
            text = masked_json(session_record(store, args.session, args.lang))
    if args.out is None:
        console.file.write(text)
        console.file.flush()
        return 0
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageProblem(f"{args.out}: {exc.strerror}") from None
    _print(console, say(args.lang, "exported", path=args.out))
    return 0


def run_dossier(args: argparse.Namespace, console: Console) -> int:
    from harness.connectathon.dossier import write_dossier

    out: Path = args.out or args.reports / "connectathon" / args.session / args.system
    with _store(args) as store:
        try:
            folder = write_dossier(
                store, args.session, args.system, out, args.key, signer=args.signer, lang=args.lang
            )
        except DossierError as exc:
            raise UsageProblem(str(exc)) from None
        except OSError as exc:
            raise UsageProblem(f"{out}: {exc.strerror}") from None
    _print(console, say(args.lang, "dossier", path=folder))
    _print(console, say(args.lang, "verify_with", path=folder))
    return 0


# -- serve, run, demo: other modules' commands -----------------------------------------------


def _hand_over(args: argparse.Namespace, command: str, module: str, name: str) -> int:
    """The command's function in its own module, imported only now (it needs the web
    framework, the proxy or the reference LPS fleet)."""
    try:
        target: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        raise UsageProblem(say(args.lang, "not_built", command=command, module=missing)) from None
    return int(target(args))


def run_serve(args: argparse.Namespace, console: Console) -> int:
    return _hand_over(args, "serve", "harness.connectathon.web.serve", "serve_command")


def run_run(args: argparse.Namespace, console: Console) -> int:
    return _hand_over(args, "run", "harness.connectathon.orchestrate", "run_command")


def run_demo(args: argparse.Namespace, console: Console) -> int:
    return _hand_over(args, "demo", "harness.connectathon.demo", "demo_command")
