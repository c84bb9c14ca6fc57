"""The population parsed once per run and shared by its cases, never across runs (runcache)."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from harness.fixtures import FIXTURES_DIR
from harness.population.generator import generate
from harness.runner import cockpit_actions
from harness.runner.actions import ActionError
from harness.runner.runcache import run_scope, shared

HAND_WRITTEN = FIXTURES_DIR / "populations" / "hand-written.json"


@pytest.fixture
def fixtures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "populations").mkdir()
    shutil.copy(HAND_WRITTEN, tmp_path / "populations" / "p.json")
    monkeypatch.setattr(cockpit_actions, "FIXTURES_DIR", tmp_path)
    return tmp_path / "populations" / "p.json"


def cprs(key: tuple[str, ...]) -> set[str]:
    _, _, population = cockpit_actions._population(key)
    return {p.cpr for p in population.patients}


def test_one_parse_per_run_shared_by_its_cases(fixtures: Path) -> None:
    with run_scope() as cache:
        first = cockpit_actions._population(("populations/p.json",))
        again = cockpit_actions._population(("populations/p.json",))
        assert again[2] is first[2] and cache.made == 1
        generated = ("population-gen", 2027, 60, "2027-03-01", "123", "x")
        cockpit_actions._population(generated[1:])
        cockpit_actions._population(generated[1:])
        assert cache.made == 2


def test_two_runs_with_two_populations_do_not_mix(fixtures: Path) -> None:
    text = fixtures.read_text(encoding="utf-8")
    with run_scope():
        before = cprs(("populations/p.json",))
    # the same file name, other patients: the next run must see the new ones
    other = generate(7, 60, dt.date(2027, 3, 1), "123456789012345", "Other clinic").bundle
    fixtures.write_text(json.dumps(other), encoding="utf-8")
    with run_scope():
        after = cprs(("populations/p.json",))
    assert after and before and not after & before
    # and a file that changes during a run is read again (its SHA-256 is the key)
    with run_scope() as cache:
        cprs(("populations/p.json",))
        fixtures.write_text(text, encoding="utf-8")
        assert cprs(("populations/p.json",)) == before and cache.made == 2


def test_outside_a_run_nothing_is_kept(fixtures: Path) -> None:
    made = []
    assert shared("k", lambda: made.append(1) or 1) == 1
    assert shared("k", lambda: made.append(1) or 1) == 1
    assert len(made) == 2


def test_a_broken_population_is_an_action_error_naming_the_file(fixtures: Path) -> None:
    fixtures.write_text("{not json", encoding="utf-8")
    with run_scope(), pytest.raises(ActionError, match=r"populations/p\.json"):
        cockpit_actions._population(("populations/p.json",))


def test_the_reference_lps_reads_a_repeated_population_body_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from starlette.testclient import TestClient

    from harness.reflps.app import create_app
    from harness.reflps.cockpit import routes

    parsed: list[int] = []
    real = routes.parse_json

    def counting(body: bytes, limits: object) -> object:
        parsed.append(len(body))
        return real(body, limits)  # type: ignore[arg-type]

    monkeypatch.setattr(routes, "parse_json", counting)
    client = TestClient(create_app())
    one = HAND_WRITTEN.read_bytes()
    other = json.dumps(
        generate(7, 60, dt.date(2027, 3, 1), "123456789012345", "Other clinic").bundle
    ).encode()
    headers = {"content-type": "application/fhir+json"}
    answers = [
        client.post("/kcert-agent/v1/population", content=body, headers=headers).json()
        for body in (one, one, other, one)
    ]
    assert [a["status"] for a in answers] == ["loaded"] * 4
    assert answers[0]["patients"] == answers[1]["patients"] == answers[3]["patients"]
    assert answers[2]["patients"] == 60
    assert len(parsed) == 3  # the second load of `one` came from the last load
