"""make connectathon-demo: six vendors, every scenario, the matrix as the plan says, on the
store, over HTTP and in headless Chromium (screenshot kept in $KCERT_SCREENSHOTS or
reports/screenshots)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from harness.connectathon.demo import (
    DEMO_MARKER,
    DemoError,
    DemoRun,
    build_demo,
    fresh_folder,
    matrix_url,
    serving,
    web_login,
)
from harness.connectathon.demoplan import demo_plan
from harness.connectathon.model import MatrixCell

CHROMIUM = Path(os.environ.get("KCERT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("KCERT_CHROMEDRIVER", "/usr/bin/chromedriver"))


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


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoRun]:
    run = build_demo(tmp_path_factory.mktemp("cx") / "demo", lang="en")
    try:
        yield run
    finally:
        run.store.close()


def _cells(run: DemoRun) -> dict[tuple[str, str], list[MatrixCell]]:
    by_key: dict[tuple[str, str], list[MatrixCell]] = {}
    for cell in run.store.matrix(run.session_id):
        by_key.setdefault((cell.system_id, cell.scenario_id), []).append(cell)
    return by_key


@pytest.mark.slow
def test_the_demo_matrix_shows_clean_verified_and_defects_failing_where_they_lie(
    demo: DemoRun,
) -> None:
    run = demo
    assert run.summary is not None and not run.summary.errors, run.summary
    assert run.plan == demo_plan(run.scenarios)
    assert any(not v.clean for v in run.plan) and any(v.clean for v in run.plan)
    # the property itself, read from the store's matrix cell by cell
    by_key = _cells(run)
    for vendor in run.plan:
        for scenario in run.scenarios:
            got = by_key[(vendor.system_id, scenario.scenario_id)]
            failed = sum(c.failed for c in got)
            verified = sum(c.verified for c in got)
            where = (vendor.system_id, scenario.scenario_id, got)
            if scenario.scenario_id in vendor.expected_failed:
                assert failed > 0, where
            else:
                assert failed == 0 and verified > 0, where
    assert run.mismatches == []
    # traffic went through the proxy and was matched to the instances
    exchanges = run.store.exchanges(run.session_id, limit=5000)
    assert exchanges and any(e.match == "header" for e in exchanges)
    # the matrix page over HTTP, as the admin
    from harness.connectathon.web.app import create_app

    with serving(create_app(run.store, lang="en"), 0) as base:
        session = requests.Session()
        session.trust_env = False
        # behind the login
        assert "/login?next=" in session.get(matrix_url(base, run.session_id), timeout=30).url
        web_login(session, base, "admin", run.passwords["admin"])
        page = session.get(matrix_url(base, run.session_id), timeout=30)
        assert page.status_code == 200
        for vendor in run.plan:
            assert vendor.system_id in page.text
        failing = sum(len(v.expected_failed) for v in run.plan)
        assert page.text.count("cell has-failed") == failing


@pytest.mark.slow
def test_the_demo_matrix_in_headless_chromium(demo: DemoRun) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip(f"no headless browser: {CHROMIUM} and {CHROMEDRIVER} (.ci/chromium.sh)")
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from harness.connectathon.web.app import create_app

    where = os.environ.get("KCERT_SCREENSHOTS")
    shots = Path(where) if where else Path(__file__).parents[2] / "reports" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
    ):
        options.add_argument(arg)
    app = create_app(
        demo.store,
        lang="en",
        scenarios={s.scenario_id: s for s in demo.scenarios},
        default_session=demo.session_id,
    )
    with serving(app, 0) as base:
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            driver.set_page_load_timeout(30)
            driver.get(f"{base}/")  # the default session's matrix, behind the login
            WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.ID, "username")))
            driver.find_element(By.ID, "username").send_keys("admin")
            driver.find_element(By.ID, "password").send_keys(demo.passwords["admin"])
            driver.find_element(By.ID, "password").submit()
            WebDriverWait(driver, 10).until(ec.presence_of_element_located((By.ID, "matrix")))
            driver.save_screenshot(str(shots / "connectathon-demo-matrix.png"))
            failed = driver.find_elements(By.CSS_SELECTOR, "#matrix td.cell.has-failed")
            verified = driver.find_elements(By.CSS_SELECTOR, "#matrix td.cell.all-verified")
            expected_failed = {
                f"{v.system_id}|{s}|lps" for v in demo.plan for s in v.expected_failed
            }
            assert {c.get_attribute("data-key") for c in failed} == expected_failed
            assert len(verified) == len(demo.plan) * len(demo.scenarios) - len(expected_failed)
        finally:
            driver.quit()
