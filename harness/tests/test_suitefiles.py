"""The one locator of kcert's suite files, and the suite version built on it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness import __version__, suitefiles
from harness.fixtures import REPO_ROOT
from harness.loader.protocols import display_path
from harness.suite import SuiteVersion, protocol_hashes, suite_version


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """kcert as an installed wheel lays it out: harness/_suite/{testcases,fixtures}, and no
    checkout next to it."""
    suite = tmp_path / "site-packages" / "harness" / "_suite"
    for name in suitefiles.FOLDERS:
        (suite / name).mkdir(parents=True)
    (suite / "testcases" / "a.yaml").write_text("id: a\n", encoding="utf-8")
    monkeypatch.setattr(suitefiles, "packaged_root", lambda: suite)
    monkeypatch.setattr(suitefiles, "CHECKOUT", tmp_path / "site-packages")
    return suite


def test_from_a_checkout_the_suite_is_the_repository_own_folders() -> None:
    assert suitefiles.checkout_root() == REPO_ROOT == suitefiles.suite_root()
    assert suitefiles.protocols_dir() == REPO_ROOT / "testcases"
    assert suitefiles.fixtures_dir() == REPO_ROOT / "fixtures"
    assert suitefiles.reports_dir() == REPO_ROOT / "reports"
    assert display_path(REPO_ROOT / "testcases" / "x.yaml") == "testcases/x.yaml"


def test_from_an_installed_wheel_the_suite_is_its_package_data(
    installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert suitefiles.checkout_root() is None
    assert suitefiles.suite_root() == installed  # suite_root() / "testcases" holds either way
    assert suitefiles.protocols_dir() == installed / "testcases"
    assert suitefiles.fixtures_dir() == installed / "fixtures"
    assert suitefiles.reports_dir() == tmp_path / "reports"  # never inside site-packages
    assert display_path(installed / "testcases" / "a.yaml") == "testcases/a.yaml"


def test_the_installed_copy_wins_over_folders_next_to_site_packages(
    installed: Path, tmp_path: Path
) -> None:
    stray = tmp_path / "site-packages"
    (stray / "testcases").mkdir()
    (stray / "pyproject.toml").write_text("", encoding="utf-8")
    assert suitefiles.checkout_root() is None
    assert suitefiles.protocols_dir() == installed / "testcases"


def test_a_missing_suite_folder_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(suitefiles, "packaged_root", lambda: tmp_path / "pkg" / "_suite")
    monkeypatch.setattr(suitefiles, "CHECKOUT", tmp_path / "nothing")
    with pytest.raises(suitefiles.SuiteFilesMissing) as caught:
        suitefiles.protocols_dir()
    said = str(caught.value)
    assert "testcases/ folder is missing" in said
    assert str(tmp_path / "pkg" / "_suite" / "testcases") in said
    assert str(tmp_path / "nothing" / "testcases") in said
    assert "make dist" in said
    # module constants never fail an import: they fall back to the checkout path
    assert suitefiles.guess_folder("fixtures") == tmp_path / "nothing" / "fixtures"
    with pytest.raises(ValueError, match="not a suite folder"):
        suitefiles.suite_folder("harness")


def test_the_cli_names_a_missing_suite_without_a_traceback(tmp_path: Path) -> None:
    # A kcert whose suite folders are gone (the package with no _suite, no checkout beside it).
    code = (
        "import sys; from pathlib import Path; from harness import suitefiles; "
        f"suitefiles.CHECKOUT = Path({str(tmp_path)!r}); "
        f"suitefiles.packaged_root = lambda: Path({str(tmp_path)!r}) / '_suite'; "
        "from harness.cli.main import main; sys.exit(main(['protocols', 'list']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr
    assert "testcases/ folder is missing" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_the_build_record_of_a_wheel(installed: Path) -> None:
    assert suitefiles.build_info() is None  # none written
    (installed / "build.json").write_text("{not json", encoding="utf-8")
    assert suitefiles.build_info() is None
    (installed / "build.json").write_text(json.dumps({"commit": 7}), encoding="utf-8")
    assert suitefiles.build_info() is None
    record = {"commit": "0123456789abcdef", "dirty": ["harness/x.py"]}
    (installed / "build.json").write_text(json.dumps(record), encoding="utf-8")
    assert suitefiles.build_info() == suitefiles.BuildInfo("0123456789abcdef", ("harness/x.py",))


# -- the suite version ---------------------------------------------------------------------------


def test_the_suite_version_names_the_protocols_hash(tmp_path: Path) -> None:
    protocols = protocol_hashes([REPO_ROOT / "testcases"])
    # the protocols and, below them, the connectathon scenarios: both judge
    root = REPO_ROOT / "testcases"
    assert {name for name, _ in protocols} == {
        p.relative_to(root).as_posix() for p in root.rglob("*.yaml")
    }
    assert any(name.startswith("connectathon/") for name, _ in protocols)
    version = suite_version()
    assert version.protocols == protocols
    assert f".p{version.protocols_hash[:12]}" in version.text()
    assert version.text().startswith(f"{__version__}+")
    # one changed byte in one protocol is another suite
    copy = tmp_path / "testcases"
    copy.mkdir()
    for path in root.rglob("*.yaml"):
        target = copy / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    assert protocol_hashes([copy]) == protocols
    first = sorted(copy.glob("*.yaml"))[0]
    first.write_bytes(first.read_bytes() + b"\n")
    changed = SuiteVersion(__version__, "", (), protocol_hashes([copy]))
    assert changed.protocols_hash != version.protocols_hash


def test_the_suite_version_text_in_each_situation() -> None:
    protocols = (("a.yaml", "0" * 64),)
    digest = SuiteVersion("1", "", (), protocols).protocols_hash[:12]
    assert SuiteVersion("1", "", ()).text() == "1+unversioned"
    assert SuiteVersion("1", "", (), protocols).text() == f"1+p{digest}"
    assert SuiteVersion("1", "0123456789abcdef", ()).text() == "1+g0123456789ab"
    assert SuiteVersion("1", "0123456789abcdef", ("x",), protocols).text() == (
        f"1+g0123456789ab.dirty.p{digest}"
    )
    assert len(SuiteVersion("0.1.0", "f" * 40, ("x",), protocols).text()) <= 80  # store column


def test_an_installed_wheel_takes_its_commit_from_the_build_record(installed: Path) -> None:
    record = {"commit": "0123456789abcdef", "dirty": []}
    (installed / "build.json").write_text(json.dumps(record), encoding="utf-8")
    version = suite_version()
    assert version.commit == "0123456789abcdef" and version.clean
    assert version.protocols == protocol_hashes([installed / "testcases"])
    assert version.text().startswith(f"{__version__}+g0123456789ab.p")
