"""The suite version: kcert's version plus the commit of the tree it runs from.

A final certification (`endelig`) must name exactly which suite judged the SUT, so it
needs a clean checkout; a self-test records a dirty tree as such.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness import __version__

ROOT = Path(__file__).resolve().parent.parent
# What judges a SUT: the engine, the protocols, the fixtures and the pinned dependencies.
SUITE_PATHS = ("harness", "testcases", "fixtures", "pyproject.toml")
GIT_TIMEOUT_S = 10


@dataclass(frozen=True)
class SuiteVersion:
    version: str
    commit: str  # "" when not a git checkout
    dirty: tuple[str, ...]  # changed or untracked suite files

    @property
    def clean(self) -> bool:
        return bool(self.commit) and not self.dirty

    def text(self) -> str:
        if not self.commit:
            return f"{self.version}+unversioned"
        return f"{self.version}+g{self.commit[:12]}" + (".dirty" if self.dirty else "")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(ROOT), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def suite_version() -> SuiteVersion:
    commit = (_git("rev-parse", "HEAD") or "").strip()
    if not commit:
        return SuiteVersion(__version__, "", ())
    status = _git("status", "--porcelain", "--untracked-files=all", "--", *SUITE_PATHS) or ""
    dirty = tuple(line[3:] for line in status.splitlines() if line.strip())
    return SuiteVersion(__version__, commit, dirty)
