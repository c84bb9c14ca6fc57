"""Where kcert's own suite files are: the protocols (`testcases/`) and the fixtures (`fixtures/`).

The one locator: nothing else works out paths relative to the repository. From a checkout (or
an editable install of one) they are the repository's own folders; from an installed wheel
they are package data under `harness/_suite/`, copied in when the wheel is built (setup.py;
`make dist`). The installed copy wins when both exist, so an installed kcert never judges with
files from whatever folder happens to lie next to site-packages.

A vendor's `--protocols` names their own copy and does not come through here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PACKAGED = "_suite"  # the folder inside the harness package that a wheel carries
PROTOCOLS = "testcases"
FIXTURES = "fixtures"
FOLDERS = (PROTOCOLS, FIXTURES)
BUILD_FILE = "build.json"  # the commit a wheel was built from (setup.py writes it)
# The checkout: the folder that holds the harness package, when it is a kcert repository.
CHECKOUT = Path(__file__).resolve().parent.parent


class SuiteFilesMissing(RuntimeError):
    """kcert's own protocols or fixtures are not where an installation keeps them."""


def packaged_root() -> Path:
    """`harness/_suite` of the imported kcert (it exists only in an installed wheel)."""
    return Path(str(resources.files("harness"))) / PACKAGED


def checkout_root() -> Path | None:
    """The repository kcert runs from, or None when it runs from an installed wheel."""
    if (packaged_root() / PROTOCOLS).is_dir():
        return None
    if (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / PROTOCOLS).is_dir():
        return CHECKOUT
    return None


def _candidates(name: str) -> list[Path]:
    return [packaged_root() / name, CHECKOUT / name]


def suite_folder(name: str) -> Path:
    """The folder `name` (testcases or fixtures); SuiteFilesMissing when neither place has it."""
    if name not in FOLDERS:
        raise ValueError(f"{name!r} is not a suite folder ({', '.join(FOLDERS)})")
    for candidate in _candidates(name):
        if candidate.is_dir():
            return candidate
    looked = " and ".join(str(c) for c in _candidates(name))
    raise SuiteFilesMissing(
        f"kcert's {name}/ folder is missing (looked in {looked}): reinstall kcert from a wheel "
        "built by `make dist`, or run it from a checkout"
    )


def guess_folder(name: str) -> Path:
    """As suite_folder(), without failing: for module constants, so that importing kcert
    never fails; a missing folder then shows as a missing file when it is read."""
    try:
        return suite_folder(name)
    except SuiteFilesMissing:
        return CHECKOUT / name


def protocols_dir() -> Path:
    return suite_folder(PROTOCOLS)


def fixtures_dir() -> Path:
    return suite_folder(FIXTURES)


def suite_root() -> Path:
    """The folder that holds testcases/ and fixtures/: the checkout, or the installed wheel's
    `_suite` (so `suite_root() / "testcases"` is right either way)."""
    root = checkout_root()
    if root is not None:
        return root
    return packaged_root() if packaged_root().is_dir() else CHECKOUT


def reports_dir() -> Path:
    """Where reports go by default: the checkout's reports/ when run from one, else reports/
    in the current folder (never inside site-packages)."""
    root = checkout_root()
    return (root if root is not None else Path.cwd()) / "reports"


def display_root() -> Path:
    """The folder suite paths in messages and reports are shown relative to (suite_root), so
    testcases/x.yaml reads the same from a checkout and from a wheel."""
    return suite_root()


@dataclass(frozen=True)
class BuildInfo:
    """What `make dist` recorded about the tree a wheel was built from."""

    commit: str
    dirty: tuple[str, ...]


def build_info() -> BuildInfo | None:
    """The installed wheel's build record; None from a checkout or when there is none."""
    path = packaged_root() / BUILD_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("commit"), str):
        return None
    dirty = data.get("dirty")
    return BuildInfo(
        data["commit"], tuple(str(d) for d in dirty) if isinstance(dirty, list) else ()
    )


__all__ = [
    "FIXTURES",
    "FOLDERS",
    "PROTOCOLS",
    "BuildInfo",
    "SuiteFilesMissing",
    "build_info",
    "checkout_root",
    "display_root",
    "fixtures_dir",
    "guess_folder",
    "packaged_root",
    "protocols_dir",
    "reports_dir",
    "suite_folder",
    "suite_root",
]
