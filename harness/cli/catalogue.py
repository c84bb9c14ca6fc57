"""Every protocol action and check, from the ACTIONS and CHECKS registries themselves.

`kcert protocols actions|checks` prints them; the README's two tables are generated from the
same rows (`python -m harness.cli.catalogue --write` rewrites them between their markers), and
a test fails when the README misses or misdescribes one, so the list cannot drift.
"""

from __future__ import annotations

import argparse
import inspect
import sys
from dataclasses import dataclass
from typing import Any

from harness.cli.parsers.protocols import KINDS
from harness.fixtures import REPO_ROOT

README = REPO_ROOT / "README.md"


@dataclass(frozen=True)
class Row:
    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    what: str
    module: str


def _registry(kind: str) -> Any:
    # The loader imports every module that registers an action or a check.
    import harness.loader.protocols
    import harness.standards  # noqa: F401  (every standard's checks registered)
    from harness.checks import CHECKS
    from harness.runner.actions import ACTIONS

    return ACTIONS if kind == "actions" else CHECKS


def _first_paragraph(func: object) -> str:
    doc = inspect.getdoc(func) or ""
    return " ".join(doc.split("\n\n")[0].split())


def rows(kind: str) -> list[Row]:
    out = []
    for entry in sorted(_registry(kind), key=lambda e: e.name):
        schema = entry.params_schema or {}
        names = list((schema.get("properties") or {}).keys())
        required = [n for n in schema.get("required", []) if n in names]
        out.append(
            Row(
                entry.name,
                tuple(required),
                tuple(n for n in names if n not in required),
                _first_paragraph(entry.func),
                str(getattr(entry.func, "__module__", "")),
            )
        )
    return out


def _params(row: Row) -> str:
    shown = [f"`{n}`" for n in row.required] + [f"[`{n}`]" for n in row.optional]
    return ", ".join(shown) or "—"


def markdown(kind: str) -> str:
    """The README table of `kind` (actions or checks)."""
    head = "action" if kind == "actions" else "check"
    lines = [f"| {head} | parameters ([optional]) | what it does |", "| --- | --- | --- |"]
    for row in rows(kind):
        what = row.what.replace("|", "\\|")
        lines.append(f"| `{row.name}` | {_params(row)} | {what} |")
    return "\n".join(lines)


def _markers(kind: str) -> tuple[str, str]:
    return f"<!-- kcert:{kind} (generated: python -m harness.cli.catalogue --write) -->", (
        f"<!-- /kcert:{kind} -->"
    )


def with_tables(text: str) -> str:
    """`text` (the README) with both tables replaced by the registries' current rows."""
    for kind in KINDS:
        begin, end = _markers(kind)
        start, stop = text.find(begin), text.find(end)
        if start < 0 or stop < start:
            raise ValueError(f"README has no {begin} … {end} block")
        text = text[: start + len(begin)] + "\n" + markdown(kind) + "\n" + text[stop:]
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.cli.catalogue", description=__doc__)
    parser.add_argument("--write", action="store_true", help="rewrite the README's tables")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    try:
        new = with_tables(text)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.write:
        if new != text:
            README.write_text(new, encoding="utf-8")
        print(f"{README}: {len(rows('actions'))} actions, {len(rows('checks'))} checks")
        return 0
    print("up to date" if new == text else "README tables are out of date: --write")
    return 0 if new == text else 1


if __name__ == "__main__":
    sys.exit(main())
