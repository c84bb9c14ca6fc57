"""The target configuration and its safety gate: loopback or listed, errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.load.model import ReferenceService
from harness.load.targets import TargetError, TargetRefused, is_loopback, load_target
from harness.suitefiles import guess_folder


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "target.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_reference_target_loads() -> None:
    target = load_target(guess_folder("fixtures") / "load" / "targets" / "reference-flp.yaml")
    assert target.base_url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://127.8.9.10/", "http://[::1]:80", "http://localhost"]
)
def test_a_loopback_target_is_accepted(tmp_path: Path, url: str) -> None:
    target = load_target(write(tmp_path, f"name: t\nbase_url: {url}\n"))
    assert target.base_url == url.rstrip("/")


def test_a_non_loopback_target_is_refused_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "name: t\n\nbase_url: https://flp.example.org\n")
    with pytest.raises(TargetRefused, match=r"target\.yaml:3: base_url: host flp\.example\.org"):
        load_target(path)


def test_a_listed_host_is_accepted(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "name: t\nbase_url: https://FLP.example.org/api\nallowed_hosts: [flp.example.org]\n",
    )
    assert load_target(path).allowed_hosts == ("flp.example.org",)


@pytest.mark.parametrize("host", ["10.0.0.1", "0.0.0.0", "localhost.example.org", "128.0.0.1"])
def test_look_alikes_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("name: t\nbase_url: http://127.0.0.1\nport: 1\n", ":3: port: unknown field"),
        ("name: t\nbase_url: 127.0.0.1:80\n", ":2: base_url: "),
        ("name: t\nbase_url: http://127.0.0.1/?a=1\n", ":2: base_url: no query"),
        ("base_url: http://127.0.0.1\n", ":1: missing required field"),
        (
            "name: t\nbase_url: http://127.0.0.1\nheaders:\n  Authorization: Bearer abc\n",
            ":4: headers.Authorization: write the credential as a ${ENV} reference",
        ),
        (
            "name: t\nbase_url: http://127.0.0.1\nheaders:\n  X-Token: ${KCERT_NO_SUCH_VAR}\n",
            ":4: headers.X-Token: environment variable KCERT_NO_SUCH_VAR is not set",
        ),
        ("name: t\nbase_url: [\n", ":3: YAML syntax"),
    ],
)
def test_bad_target_files_name_file_line_and_field(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(TargetError) as caught:
        load_target(write(tmp_path, text))
    assert not isinstance(caught.value, TargetRefused)
    assert f"target.yaml{says}" in str(caught.value)


def test_a_token_reference_is_kept_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCERT_TEST_FLP_TOKEN", "very-secret")
    path = write(
        tmp_path,
        "name: t\nbase_url: http://127.0.0.1\nheaders:\n"
        "  Authorization: Bearer ${KCERT_TEST_FLP_TOKEN}\n",
    )
    target = load_target(path)
    assert target.headers == {"Authorization": "Bearer ${KCERT_TEST_FLP_TOKEN}"}
    assert "very-secret" not in repr(target)


def test_the_reference_switch_is_accepted_and_checked(tmp_path: Path) -> None:
    base = "name: t\nbase_url: http://127.0.0.1\n"
    load_target(write(tmp_path, base + "reference: {workers: 2, defects: [missing-index]}\n"))
    with pytest.raises(TargetError, match=r":3: reference"):
        load_target(write(tmp_path, base + "reference: {workers: 0}\n"))


def test_the_reference_is_read_with_the_target(tmp_path: Path) -> None:
    base = "name: t\nbase_url: http://127.0.0.1\n"
    assert load_target(write(tmp_path, base)).reference is None
    assert load_target(write(tmp_path, base + "reference: false\n")).reference is None
    default = load_target(write(tmp_path, base + "reference: true\n")).reference
    assert default == ReferenceService(workers=2, defects=(), seed_clinics=300, seed_plans=170)
    written = "reference:\n  workers: 3\n  defects: [n-plus-one]\n  seed: {clinics: 5}\n"
    assert load_target(write(tmp_path, base + written)).reference == ReferenceService(
        workers=3, defects=("n-plus-one",), seed_clinics=5, seed_plans=170
    )


@pytest.mark.parametrize(
    ("written", "line"),
    [
        ("reference:\n  workers: 0\n", ":4: reference"),
        ("reference:\n  port: 1\n", ":3: reference"),
        ("reference: [a]\n", ":3: reference"),
        ("reference:\n  defects: slow\n", ":4: reference"),
        ("reference:\n  seed: 3\n", ":4: reference"),
        ("reference:\n  seed: {rows: 3}\n", ":4: reference"),
        ("reference:\n  seed: {clinics: -1}\n", ":4: reference"),
    ],
)
def test_a_bad_reference_names_file_and_line(tmp_path: Path, written: str, line: str) -> None:
    with pytest.raises(TargetError, match=line):
        load_target(write(tmp_path, "name: t\nbase_url: http://127.0.0.1\n" + written))
