"""The web application's pure parts: the SVG sequence diagram, the login limiter, the words."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from harness.connectathon.model import (
    GRADES,
    SIMULATED,
    Binding,
    InstanceStep,
    RecordedExchange,
    TestInstance,
)
from harness.connectathon.web import i18n
from harness.connectathon.web.limits import LoginLimiter, RateLimit
from harness.connectathon.web.sequence import (
    MAX_ARROWS,
    diagram_for,
    exchange_outcome,
    sequence_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
WEB = Path(__file__).parents[1] / "connectathon" / "web"


def _instance() -> TestInstance:
    return TestInstance(
        "inst-1",
        "s1",
        "careplan-share",
        (Binding("lps", "vendor-a-lps"), Binding("viewer", SIMULATED)),
    )


def _exchange(
    xid: str, *, step: str = "", status: int | None = 200, **kw: object
) -> RecordedExchange:
    base: dict[str, object] = {
        "exchange_id": xid,
        "session_id": "s1",
        "endpoint_id": f"{SIMULATED}:viewer",
        "source": "vendor-a-lps",
        "target": SIMULATED,
        "method": "POST",
        "path": "/fhir/$process-message",
        "request_headers": {},
        "request_body": b"",
        "status": status,
        "response_headers": {},
        "response_body": b"",
        "started": f"2026-12-03T08:00:0{xid[-1]}.000",
        "elapsed_ms": 1.0,
        "instance_id": "inst-1",
        "step_id": step,
    }
    base.update(kw)
    return RecordedExchange(**base)  # type: ignore[arg-type]


STEPS = [
    InstanceStep("inst-1", "fetch", 2, "viewer", "lps", "Viewer fetches the plan", "failed"),
    InstanceStep("inst-1", "share", 1, "lps", "viewer", "LPS shares <plan> & more", "passed"),
]


def test_diagram_orders_steps_then_their_exchanges_then_loose_ones() -> None:
    exchanges = [
        _exchange("x3"),  # matched to no step: last
        _exchange("x2", step="fetch", endpoint_id="vendor-a-lps:lps", source=SIMULATED),
        _exchange("x1", step="share"),
    ]
    lifelines, arrows = diagram_for(_instance(), STEPS, exchanges, roles_order=("viewer", "lps"))
    assert [(line.role, line.system) for line in lifelines] == [
        ("viewer", SIMULATED),
        ("lps", "vendor-a-lps"),
    ]
    assert [a.href for a in arrows] == [
        "#step-share",
        "/exchanges/x1",
        "#step-fetch",
        "/exchanges/x2",
        "/exchanges/x3",
    ]
    # the exchange's receiver is its endpoint's role, its sender the source system's role
    x2 = arrows[3]
    assert (x2.sender, x2.receiver) == ("viewer", "lps")
    assert [a.outcome for a in arrows[:3]] == ["passed", "passed", "failed"]


def test_svg_is_wellformed_escaped_and_links_every_arrow() -> None:
    exchanges = [_exchange("x1", step="share"), _exchange("x2", step="fetch", status=500)]
    svg = sequence_svg(_instance(), STEPS, exchanges, "Diagram <of> inst-1")
    root = etree.fromstring(str(svg).encode())
    assert root.tag == f"{SVG}svg"
    links = root.findall(f"{SVG}a")
    assert [a.get("href") for a in links] == [
        "#step-share",
        "/exchanges/x1",
        "#step-fetch",
        "/exchanges/x2",
    ]
    assert [a.get("data-outcome") for a in links] == ["passed", "passed", "failed", "failed"]
    assert len(root.findall(f"{SVG}g[@class='lifeline']")) == 2
    # text from the store is escaped, never markup
    assert "<plan>" not in str(svg) and "&lt;plan&gt;" in str(svg)
    assert root.find(f"{SVG}title").text == "Diagram <of> inst-1"  # type: ignore[union-attr]
    # colours are classes (CSP: no inline style)
    assert "style=" not in str(svg)


def test_svg_of_an_instance_without_anything_has_lifelines_only() -> None:
    root = etree.fromstring(str(sequence_svg(_instance(), [], [], "t")).encode())
    assert root.findall(f"{SVG}a") == []
    assert len(root.findall(f"{SVG}g")) == 2


def test_an_unknown_party_gets_its_own_lifeline() -> None:
    stranger = _exchange("x1", source="someone-else", endpoint_id="vendor-z:municipality")
    lifelines, arrows = diagram_for(_instance(), [], [stranger])
    assert [line.role for line in lifelines] == ["lps", "viewer", "", "municipality"]
    assert (arrows[0].sender, arrows[0].receiver) == ("", "municipality")
    root = etree.fromstring(str(sequence_svg(_instance(), [], [stranger], "t")).encode())
    width = int(root.get("width"))  # type: ignore[arg-type]
    line = root.find(f"{SVG}a/{SVG}line")
    assert line is not None
    assert all(0 < int(line.get(k)) < width for k in ("x1", "x2"))  # type: ignore[arg-type]


def test_kcerts_own_step_has_a_kcert_lifeline_and_its_requests_start_there() -> None:
    reset = InstanceStep("inst-1", "0", 0, SIMULATED, "lps", "Reset the SUT's test data", "passed")
    call = _exchange("x1", step="0", source=SIMULATED, endpoint_id="vendor-a-lps:lps")
    lifelines, arrows = diagram_for(_instance(), [reset], [call])
    assert [(line.role, line.system) for line in lifelines] == [
        ("lps", "vendor-a-lps"),
        ("viewer", SIMULATED),
        (SIMULATED, SIMULATED),
    ]
    assert [(a.sender, a.receiver) for a in arrows] == [(SIMULATED, "lps"), (SIMULATED, "lps")]


def test_svg_is_bounded() -> None:
    many = [
        _exchange(f"x{i}", started=f"2026-12-03T08:{i // 60:02d}:{i % 60:02d}")
        for i in range(MAX_ARROWS + 50)
    ]
    _, arrows = diagram_for(_instance(), [], many)
    assert len(arrows) == MAX_ARROWS


def test_exchange_outcome() -> None:
    assert exchange_outcome(_exchange("x1")) == "passed"
    assert exchange_outcome(_exchange("x1", status=404)) == "failed"
    assert exchange_outcome(_exchange("x1", status=None, error="refused")) == "error"
    assert exchange_outcome(_exchange("x1", findings=[{"severity": "F2"}])) == "failed"
    assert exchange_outcome(_exchange("x1", findings=[{"severity": "F4"}])) == "passed"


def test_login_limiter_fires_per_account_and_client_and_window() -> None:
    now = [1000.0]
    limiter = LoginLimiter((RateLimit("per-account-client", 3, 60.0),), clock=lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("anna", "10.0.0.1") is None
        limiter.failed("anna", "10.0.0.1")
    fired = limiter.retry_after("anna", "10.0.0.1")
    assert fired == ("per-account-client", 60)
    # quiet for another account, and for the same account from another client
    assert limiter.retry_after("bent", "10.0.0.1") is None
    assert limiter.retry_after("anna", "10.0.0.2") is None
    now[0] += 61
    assert limiter.retry_after("anna", "10.0.0.1") is None


def test_login_limiter_per_client_limit_and_success_reset() -> None:
    now = [0.0]
    limiter = LoginLimiter(
        (RateLimit("acc", 2, 60.0), RateLimit("client", 3, 60.0, scope="client")),
        clock=lambda: now[0],
    )
    limiter.failed("anna", "c1")
    limiter.succeeded("anna", "c1")
    limiter.failed("anna", "c1")
    assert limiter.retry_after("anna", "c1") is None  # the success forgot the first failure
    limiter.failed("bent", "c1")
    limiter.failed("carl", "c1")
    assert limiter.retry_after("dora", "c1") == ("client", 60)  # three usernames, one client
    assert limiter.retry_after("dora", "c2") is None


def test_every_word_in_both_languages_and_every_template_key_known() -> None:
    for key, (da, en) in i18n.STRINGS.items():
        assert (da.strip() and en.strip()) or key == "outcome.", key
        assert re.findall(r"{(\w+)}", da) == re.findall(r"{(\w+)}", en) or set(
            re.findall(r"{(\w+)}", da)
        ) == set(re.findall(r"{(\w+)}", en)), key
    used: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("routes_*.py"), *WEB.glob("app.py")]:
        text = path.read_text()
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.-]+)["']\s*[,)]""", text))
        used |= set(re.findall(r"""translate\(\s*lang,\s*["']([a-z0-9_.-]+)["']""", text))
        used |= set(re.findall(r"""["']((?:done\.|login\.logged_)[a-z_]+)["']""", text))
    dynamic = {f"grade.{g}" for g in GRADES} | {f"role.{r}" for r in ("admin", "monitor", "vendor")}
    dynamic |= {f"status.{s}" for s in ("pending", "running", "done", "error")}
    dynamic |= {f"outcome.{o}" for o in ("", "passed", "failed", "error", "not-run")}
    dynamic |= {f"kind.{k}" for k in ("auto", "monitor", "override", "reopen", "claim")}
    dynamic |= {f"error.{s}" for s in (400, 403, 404, 405, 409, 413, 429, 503)}
    missing = sorted(k for k in used | dynamic if k not in i18n.STRINGS)
    assert missing == []
    assert len(used) > 60  # the scan found the templates' words


def test_translate() -> None:
    assert i18n.translate("da", "login.title") == "Log ind"
    assert i18n.translate("en", "login.title") == "Sign in"
    assert (
        i18n.translate("en", "login.limited", seconds=7)
        == "Too many failed attempts. Try again in 7 seconds."
    )
    assert i18n.translate("da", "no.such.key") == "no.such.key"
    assert i18n.pick("fr") == "da" and i18n.pick("en") == "en"
