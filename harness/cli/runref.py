"""A run named on the command line, as its report folder: a folder, `latest`, a run id or a
unique prefix of one under the reports folder. For the commands that work on the folder alone
(sign, verify, coverage), so they need no run store; the store's own `resolve` does the same
for the commands that read the store."""

from __future__ import annotations

from pathlib import Path

from harness.cli.errors import UsageProblem
from harness.dossier.manifest import MANIFEST

RUN_HELP = "run folder, or under --reports: 'latest', a run id or a unique prefix"


def run_folder(text: str, reports: Path) -> Path:
    """A run folder from a folder, `latest`, a run id or a unique prefix of one under
    `reports` (the run folders, so signing needs no run store)."""
    path = Path(text)
    if path.is_dir():
        return path.resolve()
    if text == "latest":
        return _latest(reports)
    if "/" in text or text in (".", ".."):
        raise UsageProblem(f"no run folder {text!r}")
    exact = reports / text
    if exact.is_dir():
        return exact.resolve()
    runs = sorted(
        p for p in _run_folders(reports) if p.name.startswith(text) and p.name != "latest"
    )
    if len(runs) == 1:
        return runs[0].resolve()
    if runs:
        names = ", ".join(p.name for p in runs[:5])
        raise UsageProblem(f"{text!r} matches {len(runs)} runs under {reports}: {names} …")
    raise UsageProblem(f"no run folder {text!r} (neither a folder nor a run id under {reports})")


def _run_folders(reports: Path) -> list[Path]:
    if not reports.is_dir():
        return []
    return [p for p in reports.iterdir() if p.is_dir() and (p / MANIFEST).is_file()]


def _latest(reports: Path) -> Path:
    """reports/latest: a symlink to the newest run folder, or a file naming it."""
    pointer = reports / "latest"
    if pointer.is_dir():
        return pointer.resolve()
    if pointer.is_file():
        named = reports / pointer.read_text(encoding="utf-8").strip()
        if named.is_dir():
            return named.resolve()
    raise UsageProblem(f"no latest run under {reports} (no run has been reported there)")
