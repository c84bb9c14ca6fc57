"""Build hook only (the metadata is in pyproject.toml): a wheel carries kcert's suite.

The protocols (testcases/) and fixtures (fixtures/) live beside the harness package, not in it,
so package-data globs cannot reach them. build_py copies both into the wheel as
harness/_suite/, with build.json naming the commit the wheel was built from;
harness/suitefiles.py finds them there. An editable install copies nothing: it reads the
checkout's own folders.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SUITE_FOLDERS = ("testcases", "fixtures")
SUITE_PATHS = ("harness", "testcases", "fixtures", "pyproject.toml")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(HERE), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


class BuildWithSuite(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "harness" / "_suite"
        for name in SUITE_FOLDERS:
            if not (HERE / name).is_dir():
                raise SystemExit(f"{HERE / name} is missing: a wheel without its suite is no kcert")
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(
                HERE / name, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        commit = (_git("rev-parse", "HEAD") or "").strip()
        status = _git("status", "--porcelain", "--untracked-files=all", "--", *SUITE_PATHS)
        dirty = [line[3:] for line in (status or "").splitlines() if line.strip()]
        (target / "build.json").write_text(
            json.dumps({"commit": commit, "dirty": dirty}), encoding="utf-8"
        )


setup(cmdclass={"build_py": BuildWithSuite})
