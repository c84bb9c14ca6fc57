"""A command's function, named by module and attribute and imported only when called."""

from __future__ import annotations

import argparse
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


class lazy:
    """`harness.cli.<module>.<name>`, imported on the first call (the parser needs only this)."""

    def __init__(self, module: str, name: str) -> None:
        self.module = f"harness.cli.{module}"
        self.name = name

    def __call__(self, args: argparse.Namespace, console: Console) -> int:
        code: int = getattr(importlib.import_module(self.module), self.name)(args, console)
        return code

    def __repr__(self) -> str:
        return f"lazy({self.module}.{self.name})"
