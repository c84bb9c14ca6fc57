"""make connectathon-demo: six vendors, every scenario, the matrix as the plan says."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from harness.connectathon.demo import (
    DEMO_MARKER,
    DemoError,
    build_demo,
    fresh_folder,
    matrix_url,
    serving,
    web_login,
)
from harness.connectathon.demoplan import demo_plan


def test_the_demo_folder_is_emptied_only_when_the_demo_made_it(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    fresh_folder(folder)
    (folder / "old.sqlite").write_text("x")
    fresh_folder(folder)
    assert sorted(p.name for p in folder.iterdir()) == [DEMO_MARKER]
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(DemoError, match="did not write"):
        fresh_folder(other)
    assert (other / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_the_demo_matrix_shows_clean_verified_and_defects_failing_where_they_lie(
    tmp_path: Path,
) -> None:
    from harness.connectathon.web.app import create_app

    run = build_demo(tmp_path / "demo", lang="en")
    try:
        assert run.summary is not None and not run.summary.errors, run.summary
        assert run.plan == demo_plan(run.scenarios)
        # the property itself, read from the store's matrix cell by cell
        cells = run.store.matrix(run.session_id)
        by_key: dict[tuple[str, str], list[object]] = {}
        for cell in cells:
            by_key.setdefault((cell.system_id, cell.scenario_id), []).append(cell)
        for vendor in run.plan:
            for scenario in run.scenarios:
                got = by_key[(vendor.system_id, scenario.scenario_id)]
                failed = sum(c.failed for c in got)  # type: ignore[attr-defined]
                verified = sum(c.verified for c in got)  # type: ignore[attr-defined]
                if scenario.scenario_id in vendor.expected_failed:
                    assert failed > 0, (vendor.system_id, scenario.scenario_id, got)
                else:
                    assert failed == 0 and verified > 0, (
                        vendor.system_id,
                        scenario.scenario_id,
                        got,
                    )
        assert run.mismatches == []
        assert any(not v.clean for v in run.plan) and any(v.clean for v in run.plan)
        # traffic went through the proxy and was matched to the instances
        exchanges = run.store.exchanges(run.session_id, limit=5000)
        assert exchanges and any(e.instance_id for e in exchanges)
        # the matrix page over HTTP, as the admin
        with serving(create_app(run.store, lang="en"), 0) as base:
            session = requests.Session()
            session.trust_env = False
            web_login(session, base, "admin", run.passwords["admin"])
            page = session.get(matrix_url(base, run.session_id), timeout=30)
            assert page.status_code == 200
            for vendor in run.plan:
                assert vendor.system_id in page.text
    finally:
        run.store.close()
