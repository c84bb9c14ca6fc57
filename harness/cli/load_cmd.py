"""`kcert load model` (the workload model printed), and the hand-over of `kcert load run` and
`kcert load worker` to harness.load.command and harness.load.distributed.

A broken profile ends as `kcert: error: file:line: field: reason` (Danish: `kcert: fejl: …`)
with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable

from rich.console import Console

from harness.cli.errors import UsageProblem
from harness.load.profile import ProfileError, load_profile
from harness.load.rates import derive_rates, model_json, render_model

WORDS: dict[str, dict[str, str]] = {
    "da": {"not_built": "kcert load {command} er ikke med i denne udgave ({module} mangler)"},
    "en": {"not_built": "kcert load {command} is not part of this build ({module} missing)"},
}


def model(args: argparse.Namespace, console: Console) -> int:
    lang = "en" if args.lang == "en" else "da"
    try:
        profile = load_profile(args.profile)
    except ProfileError as exc:
        raise UsageProblem(str(exc)) from None
    table = derive_rates(profile, lang="en" if args.json else lang)
    if args.json:
        text = json.dumps(model_json(profile, table), ensure_ascii=False, indent=2) + "\n"
    else:
        text = render_model(profile, table, lang)
    # plain stdout: the figures and arithmetic are text to read or pipe, not console markup
    sys.stdout.write(text)
    sys.stdout.flush()
    return 0


def _hand_over(args: argparse.Namespace, command: str, module: str, name: str) -> int:
    """The command's function in its own module, imported only now (Locust, the run store)."""
    lang = "en" if getattr(args, "lang", "da") == "en" else "da"
    try:
        target: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        missing = exc.name or module
        raise UsageProblem(
            WORDS[lang]["not_built"].format(command=command, module=missing)
        ) from None
    except AttributeError:
        raise UsageProblem(
            WORDS[lang]["not_built"].format(command=command, module=f"{module}.{name}")
        ) from None
    return int(target(args))


def run(args: argparse.Namespace, console: Console) -> int:
    return _hand_over(args, "run", "harness.load.command", "run_load_command")


def worker(args: argparse.Namespace, console: Console) -> int:
    return _hand_over(args, "worker", "harness.load.distributed", "worker_command")
