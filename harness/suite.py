"""The suite version: kcert's version, the commit it was built or runs from, and the hash of the
protocols that judge.

A final certification (`endelig`) must name exactly which suite judged the SUT, so it needs a
clean tree: a git checkout, or a wheel `make dist` built from a clean checkout (the commit is
recorded in the wheel). The protocols' hash names the protocols themselves, so two
installations that judge with the same protocols say so even without git.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from harness import __version__
from harness.suitefiles import PROTOCOLS, build_info, checkout_root, guess_folder

# What judges a SUT: the engine, the protocols, the fixtures and the pinned dependencies.
SUITE_PATHS = ("harness", "testcases", "fixtures", "pyproject.toml")
GIT_TIMEOUT_S = 10
PROTOCOL_SUFFIXES = (".yaml", ".yml")
MAX_PROTOCOL_FILES = 10_000


@dataclass(frozen=True)
class SuiteVersion:
    version: str
    commit: str  # "" when neither a git checkout nor a wheel that recorded one
    dirty: tuple[str, ...]  # changed or untracked suite files
    protocols: tuple[tuple[str, str], ...] = ()  # (file relative to its folder, sha256)

    @property
    def clean(self) -> bool:
        return bool(self.commit) and not self.dirty

    @property
    def protocols_hash(self) -> str:
        """One sha256 over every protocol file's name and hash ("" when none was hashed)."""
        if not self.protocols:
            return ""
        lines = "".join(f"{name}\0{digest}\n" for name, digest in self.protocols)
        return hashlib.sha256(lines.encode("utf-8")).hexdigest()

    def text(self) -> str:
        marks = []
        if self.commit:
            marks.append(f"g{self.commit[:12]}" + (".dirty" if self.dirty else ""))
        if self.protocols:
            marks.append(f"p{self.protocols_hash[:12]}")
        return f"{self.version}+{'.'.join(marks) if marks else 'unversioned'}"


def protocol_hashes(roots: Iterable[Path]) -> tuple[tuple[str, str], ...]:
    """(name, sha256) of every protocol file below `roots`, names relative to their root."""
    found: dict[str, str] = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob("*")) if root.is_dir() else []
        for path in files:
            if not path.is_file() or path.suffix.lower() not in PROTOCOL_SUFFIXES:
                continue
            if len(found) >= MAX_PROTOCOL_FILES:
                raise ValueError(f"{root}: more than {MAX_PROTOCOL_FILES} protocol files")
            name = path.name if path == root else path.relative_to(root).as_posix()
            found[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return tuple(sorted(found.items()))


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(root: Path) -> tuple[str, tuple[str, ...]]:
    """(commit, dirty suite files) of the checkout at `root`; ("", ()) when it is none."""
    commit = (_git(root, "rev-parse", "HEAD") or "").strip()
    if not commit:
        return "", ()
    status = _git(root, "status", "--porcelain", "--untracked-files=all", "--", *SUITE_PATHS)
    dirty = tuple(line[3:] for line in (status or "").splitlines() if line.strip())
    return commit, dirty


def suite_version() -> SuiteVersion:
    """The suite kcert ships: its version, commit (checkout or wheel) and protocols' hash."""
    protocols = protocol_hashes([guess_folder(PROTOCOLS)])
    checkout = checkout_root()
    if checkout is not None:
        commit, dirty = git_state(checkout)
        return SuiteVersion(__version__, commit, dirty, protocols)
    built = build_info()
    if built is not None:
        return SuiteVersion(__version__, built.commit, built.dirty, protocols)
    return SuiteVersion(__version__, "", (), protocols)
