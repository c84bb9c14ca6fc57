"""The hand-over of `kcert quality score` to harness.quality.command (the engine, the run
store and matplotlib are imported only when it runs)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

from rich.console import Console

from harness.cli.errors import UsageProblem

WORDS: dict[str, dict[str, str]] = {
    "da": {"not_built": "kcert quality {command} er ikke med i denne udgave ({module} mangler)"},
    "en": {"not_built": "kcert quality {command} is not part of this build ({module} missing)"},
}


def score(args: argparse.Namespace, console: Console) -> int:
    lang = "en" if getattr(args, "lang", "da") == "en" else "da"
    module, name = "harness.quality.command", "score_command"
    try:
        target: Callable[[argparse.Namespace], int] = getattr(importlib.import_module(module), name)
    except ModuleNotFoundError as exc:
        raise UsageProblem(
            WORDS[lang]["not_built"].format(command="score", module=exc.name or module)
        ) from None
    return int(target(args))
