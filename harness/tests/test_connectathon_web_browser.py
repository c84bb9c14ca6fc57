"""The connectathon web pages in a real headless Chromium (Selenium, Debian's chromium and
chromium-driver) against uvicorn on 127.0.0.1: login, the matrix following the store live,
the instance page's sequence diagram and an exchange link, claim and grade with an attachment.
Screenshots go to $KCERT_SCREENSHOTS or reports/screenshots (kept as CI artefacts)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from harness.connectathon.model import Grade
from harness.connectathon.web.app import create_app
from harness.connectathon.web.limits import WebLimits
from harness.tests.connectathon_web_seed import PASSWORD, SCENARIO, Seeded, seed

CHROMIUM = Path(os.environ.get("KCERT_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("KCERT_CHROMEDRIVER", "/usr/bin/chromedriver"))
WAIT = 10.0  # seconds any one wait in the browser may take
pytestmark = pytest.mark.slow  # a browser start and a page walk: ~12 s for the module

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"no headless browser: {CHROMIUM} and {CHROMEDRIVER} are needed "
        "(Debian packages chromium and chromium-driver; .ci/run installs them)",
        allow_module_level=True,
    )

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def screenshots_dir() -> Path:
    where = os.environ.get("KCERT_SCREENSHOTS")
    folder = Path(where) if where else Path(__file__).parents[2] / "reports" / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Server:
    url: str
    seeded: Seeded


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    seeded = seed(tmp_path)
    app = create_app(
        seeded.store,
        secret_key=b"b" * 32,
        scenarios={SCENARIO.scenario_id: SCENARIO},
        default_session=seeded.session_id,
        limits=WebLimits(sse_interval=0.2, poll_interval=0.5),
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=1)
    )
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not uv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", seeded)
    finally:
        uv.should_exit = True
        thread.join(WAIT)
        sock.close()
        seeded.store.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        f"--user-data-dir={tmp_path / 'chromium'}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(screenshots_dir() / f"connectathon-{name}.png"))


def _wait(driver: Any) -> WebDriverWait[Any]:
    return WebDriverWait(driver, WAIT)


def _csp_errors(driver: Any) -> list[str]:
    return [
        e["message"]
        for e in driver.get_log("browser")
        if "Content Security Policy" in e["message"] or e["level"] == "SEVERE"
    ]


def test_login_matrix_instance_exchange_claim_and_grade(
    server: Server, browser: Any, tmp_path: Path
) -> None:
    seeded = server.seeded
    driver = browser
    # login
    driver.get(f"{server.url}/")
    _wait(driver).until(ec.presence_of_element_located((By.ID, "username")))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Log ind"
    _shot(driver, "01-login")
    driver.find_element(By.ID, "username").send_keys("monitor")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()

    # the matrix, following the store without a reload (server-sent events)
    table = _wait(driver).until(ec.presence_of_element_located((By.ID, "matrix")))
    _wait(driver).until(lambda d: table.get_attribute("data-fingerprint"))
    key = f"vendor-a-lps|{SCENARIO.scenario_id}|lps"
    cell = driver.find_element(By.CSS_SELECTOR, f'td[data-key="{key}"]')
    assert cell.find_element(By.CSS_SELECTOR, '[data-field="waiting"]').text == "1"
    _shot(driver, "02-matrix")
    seeded.store.add_grade(
        Grade(seeded.a_instance, "partial", "override", "admin", "2026-12-03T09:00:00", "seen live")
    )
    _wait(driver).until(
        lambda d: cell.find_element(By.CSS_SELECTOR, '[data-field="partial"]').text == "1"
    )
    assert cell.find_element(By.CSS_SELECTOR, '[data-field="waiting"]').text == "0"
    assert "has-open" in (cell.get_attribute("class") or "")
    _shot(driver, "03-matrix-live")

    # the cell leads to its instances, the instance page has the sequence diagram
    cell.find_element(By.CSS_SELECTOR, "a.cell-link").click()
    _wait(driver).until(ec.element_to_be_clickable((By.CSS_SELECTOR, "a.instance-link"))).click()
    svg = _wait(driver).until(ec.presence_of_element_located((By.CSS_SELECTOR, "svg.sequence")))
    assert svg.is_displayed()
    arrows = driver.find_elements(By.CSS_SELECTOR, "svg.sequence a.exchange")
    assert len(arrows) == 1
    assert len(driver.find_elements(By.CSS_SELECTOR, "svg.sequence a.step")) == 2
    _shot(driver, "04-instance")
    arrows[0].find_element(By.CSS_SELECTOR, "text").click()
    heading = _wait(driver).until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
    assert seeded.a_exchange in heading.text
    assert "<script>alert(1)</script>" in driver.find_element(By.CSS_SELECTOR, "pre.body").text
    _shot(driver, "05-exchange")
    driver.back()

    # claim, then grade with a comment and an attachment
    _wait(driver).until(ec.element_to_be_clickable((By.ID, "claim"))).click()
    _wait(driver).until(ec.text_to_be_present_in_element((By.ID, "claimed-by"), "monitor"))
    evidence = tmp_path / "viewer-log.txt"
    evidence.write_text("the viewer showed no plan\n")
    Select(driver.find_element(By.ID, "grade-select")).select_by_value("failed")
    driver.find_element(By.ID, "grade-comment").send_keys("Viewer fetched no plan")
    driver.find_element(By.ID, "grade-files").send_keys(str(evidence))
    driver.find_element(By.ID, "grade-submit").click()
    _wait(driver).until(ec.text_to_be_present_in_element((By.ID, "instance-grade"), "fejlet"))
    audit = driver.find_element(By.ID, "audit").text
    assert "Viewer fetched no plan" in audit and "monitor" in audit
    _shot(driver, "06-graded")
    last = seeded.store.grades(seeded.a_instance)[-1]
    assert (last.kind, last.by, last.grade) == ("monitor", "monitor", "failed")
    assert seeded.store.attachment(last.attachments[0])[2] == evidence.read_bytes()

    # English through the toggle
    driver.find_element(By.ID, "lang-toggle").click()
    _wait(driver).until(ec.text_to_be_present_in_element((By.ID, "instance-grade"), "failed"))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    _shot(driver, "07-english")
    assert _csp_errors(driver) == []


def test_polling_fallback_follows_the_instance_without_event_source(
    server: Server, browser: Any
) -> None:
    seeded = server.seeded
    driver = browser
    # a browser without EventSource: the page script polls the JSON endpoint instead
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": "delete window.EventSource;"}
    )
    driver.get(f"{server.url}/login?lang=en")
    _wait(driver).until(ec.presence_of_element_located((By.ID, "username"))).send_keys("admin")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-submit").click()
    _wait(driver).until(ec.presence_of_element_located((By.ID, "matrix")))
    driver.get(f"{server.url}/instances/{seeded.b_instance}")
    facts = _wait(driver).until(ec.presence_of_element_located((By.ID, "instance-facts")))
    assert driver.execute_script("return typeof window.EventSource") == "undefined"
    assert driver.find_element(By.ID, "instance-grade").text == "verified"
    seeded.store.add_grade(
        Grade(
            seeded.b_instance,
            "failed",
            "monitor",
            "monitor",
            "2026-12-03T09:10:00",
            "receipt missing",
        )
    )
    _wait(driver).until(ec.text_to_be_present_in_element((By.ID, "instance-grade"), "failed"))
    assert facts.get_attribute("data-fingerprint")
    # a new act is not in the page yet: the page says so instead of reloading by itself
    notice = driver.find_element(By.CSS_SELECTOR, ".live-changed")
    _wait(driver).until(lambda d: notice.is_displayed())
    # the admin's override form is there; a comment is required by the browser and the server
    driver.find_element(By.ID, "override-comment").send_keys("Receipt found in the log")
    Select(driver.find_element(By.ID, "override-select")).select_by_value("verified")
    driver.find_element(By.ID, "override").click()
    _wait(driver).until(ec.text_to_be_present_in_element((By.ID, "audit"), "override"))
    _shot(driver, "08-override")
    acts = seeded.store.grades(seeded.b_instance)
    assert [(g.kind, g.by) for g in acts][-3:] == [
        ("monitor", "monitor"),
        ("claim", "admin"),
        ("override", "admin"),
    ]
    assert _csp_errors(driver) == []
