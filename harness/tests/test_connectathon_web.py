"""The connectathon web application over HTTP against the real ConnectathonStore (SQLite):
login and its rate limit, CSRF, the vendor's view, grading with attachments, override, the
audit trail, live JSON/SSE, security headers, Danish and English."""

from __future__ import annotations

import argparse
import dataclasses
import re
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from harness.connectathon.web.app import SESSION_COOKIE, create_app
from harness.connectathon.web.limits import RateLimit, WebLimits
from harness.connectathon.web.serve import serve_command
from harness.store.runstore import STORE_FILE
from harness.tests.connectathon_web_seed import CSRF_INPUT, PASSWORD, SCENARIO, Seeded, seed

LIMITS = WebLimits(
    login_limits=(
        RateLimit("login-per-account-client", 3, 600.0),
        RateLimit("login-per-client", 5, 600.0, scope="client"),
    ),
    max_body=256 * 1024,
    max_attachment=1024,
    max_attachments=2,
    sse_max_seconds=0.6,
    sse_interval=0.05,
    sse_heartbeat=0.1,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    data = seed(tmp_path)
    yield data
    data.store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_client(seeded: Seeded, clock: Clock) -> Iterator[TestClient]:
    app = create_app(
        seeded.store,
        secret_key=b"k" * 32,
        limits=LIMITS,
        scenarios={SCENARIO.scenario_id: SCENARIO},
        clock=clock,
    )
    with TestClient(app) as client:
        yield client


def token(client: TestClient, path: str = "/login") -> str:
    page = client.get(path)
    found = CSRF_INPUT.search(page.text)
    assert found, page.text[:500]
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> int:
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token(client)},
        follow_redirects=False,
    )
    return answer.status_code


# -- login --------------------------------------------------------------------------------


def test_pages_need_a_login(app_client: TestClient, seeded: Seeded) -> None:
    answer = app_client.get(f"/instances/{seeded.a_instance}", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/login?next=%2Finstances%2F{seeded.a_instance}"
    with_query = app_client.get("/sessions/s/instances?system=a&role=lps", follow_redirects=False)
    assert with_query.headers["location"] == (
        "/login?next=%2Fsessions%2Fs%2Finstances%3Fsystem%3Da%26role%3Dlps"
    )
    login_page = app_client.get(with_query.headers["location"])
    assert 'name="next" value="/sessions/s/instances?system=a&amp;role=lps"' in login_page.text
    assert app_client.get("/api/sessions/x/matrix").status_code == 401


def test_login_ok_sets_a_signed_httponly_lax_cookie(app_client: TestClient) -> None:
    page = app_client.get("/login")
    answer = app_client.post(
        "/login",
        data={
            "username": "monitor",
            "password": PASSWORD,
            "csrf_token": CSRF_INPUT.search(page.text).group(1),  # type: ignore[union-attr]
            "next": "/sessions",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/sessions"
    cookie = answer.headers["set-cookie"].lower()
    assert cookie.startswith(SESSION_COOKIE) and "httponly" in cookie and "samesite=lax" in cookie
    home = app_client.get("/sessions")
    assert home.status_code == 200 and "Logget ind som monitor" in home.text
    assert "Connectathon 2026" in home.text


def test_login_bad_password_and_unknown_user_say_the_same(app_client: TestClient) -> None:
    assert login(app_client, "monitor", "wrong password here") == 401
    wrong = app_client.post(
        "/login",
        data={"username": "nobody", "password": "x" * 14, "csrf_token": token(app_client)},
    )
    assert wrong.status_code == 401 and "Forkert brugernavn eller adgangskode." in wrong.text
    assert app_client.get("/sessions", follow_redirects=False).status_code == 303


def test_login_next_stays_on_this_site(app_client: TestClient) -> None:
    answer = app_client.post(
        "/login",
        data={
            "username": "monitor",
            "password": PASSWORD,
            "csrf_token": token(app_client),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


def test_rate_limit_fires_for_the_account_and_client_and_stays_quiet_otherwise(
    app_client: TestClient, clock: Clock
) -> None:
    for _ in range(3):
        assert login(app_client, "monitor", "wrong password here") == 401
    limited = app_client.post(
        "/login",
        data={"username": "monitor", "password": PASSWORD, "csrf_token": token(app_client)},
    )
    assert limited.status_code == 429  # even the right password: no guessing while limited
    assert limited.headers["retry-after"] == "600"
    assert limited.headers["x-kcert-limit"] == "login-per-account-client"
    assert "Prøv igen om 600 sekunder" in limited.text
    # quiet: another account from the same client still logs in
    assert login(app_client, "admin") == 303
    clock.now += 601
    assert login(app_client, "monitor") == 303


def test_rate_limit_per_client_across_usernames(app_client: TestClient) -> None:
    for username in ("monitor", "monitor", "admin", "admin", "vendora"):
        assert login(app_client, username, "wrong password here") == 401
    answer = app_client.post(
        "/login",
        data={"username": "vendora", "password": PASSWORD, "csrf_token": token(app_client)},
    )
    assert answer.status_code == 429 and answer.headers["x-kcert-limit"] == "login-per-client"


def test_logout_ends_the_session_even_for_a_copied_cookie(app_client: TestClient) -> None:
    assert login(app_client, "monitor") == 303
    copied = app_client.cookies.get(SESSION_COOKIE)
    out = app_client.post(
        "/logout", data={"csrf_token": token(app_client, "/sessions")}, follow_redirects=False
    )
    assert out.status_code == 303
    assert "Du er logget ud." in app_client.get("/login").text
    app_client.cookies.set(SESSION_COOKIE, copied or "")
    assert app_client.get("/sessions", follow_redirects=False).status_code == 303


def test_a_session_ends_after_its_lifetime_even_when_used(seeded: Seeded) -> None:
    expired = dataclasses.replace(LIMITS, session_lifetime=-1)  # every session already too old
    with TestClient(create_app(seeded.store, limits=expired)) as client:
        assert login(client, "monitor") == 303
        assert client.get("/sessions", follow_redirects=False).status_code == 303


# -- CSRF ---------------------------------------------------------------------------------


def test_csrf_token_required_on_login_and_on_grading(
    app_client: TestClient, seeded: Seeded
) -> None:
    no_token = app_client.post("/login", data={"username": "monitor", "password": PASSWORD})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    token(app_client)
    wrong = app_client.post(
        "/login", data={"username": "monitor", "password": PASSWORD, "csrf_token": "x" * 43}
    )
    assert wrong.status_code == 403
    assert login(app_client, "monitor") == 303
    claim = f"/instances/{seeded.a_instance}/claim"
    assert app_client.post(claim, data={}).status_code == 403
    assert app_client.post(claim, data={"csrf_token": "forged"}).status_code == 403
    good = token(app_client, f"/instances/{seeded.a_instance}")
    other_site = app_client.post(
        claim, data={"csrf_token": good}, headers={"Origin": "http://evil.example"}
    )
    assert other_site.status_code == 403
    assert [g.kind for g in seeded.store.grades(seeded.a_instance)] == ["auto"]
    # and the same form with its token goes through
    assert app_client.post(claim, data={"csrf_token": good}).status_code == 200
    assert [g.kind for g in seeded.store.grades(seeded.a_instance)] == ["auto", "claim"]


def test_every_form_the_pages_offer_refuses_a_missing_token(
    app_client: TestClient, seeded: Seeded
) -> None:
    assert login(app_client, "admin") == 303
    actions: set[str] = set()
    for page in (
        f"/instances/{seeded.a_instance}",
        f"/sessions/{seeded.session_id}/worklist",
        "/login",
    ):
        html = app_client.get(page).text
        actions |= set(re.findall(r'<form method="post" action="([^"]+)"', html))
    assert {
        "/login",
        "/logout",
        f"/instances/{seeded.a_instance}/claim",
        f"/instances/{seeded.a_instance}/grade",
        f"/instances/{seeded.a_instance}/reopen",
        f"/instances/{seeded.a_instance}/override",
    } <= actions
    for action in sorted(actions):
        refused = app_client.post(action, data={"grade": "verified", "comment": "c"})
        assert refused.status_code == 403, action
    assert [g.kind for g in seeded.store.grades(seeded.a_instance)] == ["auto"]
    assert app_client.get("/sessions").status_code == 200  # still logged in: logout refused too


def test_body_over_the_cap_is_refused(app_client: TestClient) -> None:
    answer = app_client.post(
        "/login",
        content=b"x" * (LIMITS.max_body + 1),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413


# -- the vendor's view --------------------------------------------------------------------


def test_vendor_sees_only_its_own_systems(app_client: TestClient, seeded: Seeded) -> None:
    assert login(app_client, "vendora") == 303
    matrix = app_client.get(f"/sessions/{seeded.session_id}")
    assert matrix.status_code == 200
    assert "vendor-a-lps" in matrix.text and "vendor-b-lps" not in matrix.text
    own = app_client.get(f"/instances/{seeded.a_instance}")
    assert own.status_code == 200 and "<svg" in own.text
    assert app_client.get(f"/exchanges/{seeded.a_exchange}").status_code == 200
    # another vendor's instance and exchanges: 404, as an unknown id (existence not told)
    for path in (
        f"/instances/{seeded.b_instance}",
        f"/exchanges/{seeded.b_exchange}",
        f"/exchanges/{seeded.unmatched_b}",
        f"/api/instances/{seeded.b_instance}",
        f"/api/instances/{seeded.b_instance}/events",
        "/instances/no-such-instance",
    ):
        assert app_client.get(path).status_code == 404, path
    listed = app_client.get(f"/sessions/{seeded.session_id}/instances?system=vendor-b-lps")
    assert seeded.b_instance not in listed.text
    unmatched = app_client.get(f"/sessions/{seeded.session_id}/unmatched")
    assert seeded.unmatched_b not in unmatched.text
    cells = app_client.get(f"/api/sessions/{seeded.session_id}/matrix").json()["cells"]
    assert {c["system_id"] for c in cells} == {"vendor-a-lps"}
    # a vendor neither sees the worklist nor grades, not even its own instance
    assert app_client.get(f"/sessions/{seeded.session_id}/worklist").status_code == 403
    good = token(app_client, f"/instances/{seeded.a_instance}")
    claim = app_client.post(f"/instances/{seeded.a_instance}/claim", data={"csrf_token": good})
    assert claim.status_code == 403
    assert "claim-form" not in own.text


def test_monitor_sees_every_system(app_client: TestClient, seeded: Seeded) -> None:
    assert login(app_client, "monitor") == 303
    matrix = app_client.get(f"/sessions/{seeded.session_id}")
    assert "vendor-a-lps" in matrix.text and "vendor-b-lps" in matrix.text
    assert app_client.get(f"/exchanges/{seeded.unmatched_b}").status_code == 200
    assert seeded.unmatched_b in app_client.get(f"/sessions/{seeded.session_id}/unmatched").text


# -- pages --------------------------------------------------------------------------------


def test_matrix_counts_and_partners(app_client: TestClient, seeded: Seeded) -> None:
    assert login(app_client, "monitor") == 303
    listed = app_client.get("/api/sessions").json()["sessions"]
    assert [(s["session_id"], s["scenarios"]) for s in listed] == [
        (seeded.session_id, [SCENARIO.scenario_id])
    ]
    data = app_client.get(f"/api/sessions/{seeded.session_id}/matrix").json()
    by_system = {c["system_id"]: c for c in data["cells"]}
    assert by_system["vendor-a-lps"]["waiting"] == 1 and by_system["vendor-a-lps"]["verified"] == 0
    assert by_system["vendor-b-lps"]["verified"] == 1
    assert by_system["vendor-b-lps"]["partners_used"] == ["kcert"]
    page = app_client.get(f"/sessions/{seeded.session_id}")
    assert 'data-key="vendor-b-lps|cx-careplan-view|lps"' in page.text
    assert "partnere 1/1 (af 1)" in page.text
    assert SCENARIO.title_da in page.text


def test_instance_page_has_the_diagram_and_exchange_links(
    app_client: TestClient, seeded: Seeded
) -> None:
    assert login(app_client, "monitor") == 303
    page = app_client.get(f"/instances/{seeded.a_instance}").text
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="sequence"' in page
    assert f'href="/exchanges/{seeded.a_exchange}"' in page
    assert 'href="#step-share"' in page and 'id="step-share"' in page
    assert "LPS shares the &lt;plan&gt;" in page  # escaped in table and diagram
    assert "the viewer&#39;s fetch timed out" in page


def test_exchange_page_escapes_bodies_and_redacts_secrets(
    app_client: TestClient, seeded: Seeded
) -> None:
    assert login(app_client, "monitor") == 303
    page = app_client.get(f"/exchanges/{seeded.a_exchange}")
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "t0k" not in page.text
    assert "CPD-STRAT" in page.text and "no &lt;stratification&gt;" in page.text
    assert "fhir-message" in page.text


def test_security_headers(app_client: TestClient) -> None:
    answer = app_client.get("/login")
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in answer.text.replace('<script src="/static/app.js" defer>', "")


# -- grading ------------------------------------------------------------------------------


def test_monitor_claims_and_grades_with_comment_and_attachment(
    app_client: TestClient, seeded: Seeded
) -> None:
    assert login(app_client, "monitor") == 303
    work = app_client.get(f"/sessions/{seeded.session_id}/worklist")
    assert work.status_code == 200
    assert seeded.a_instance in work.text.split('id="worklist-auto"')[0]  # waiting section
    page = f"/instances/{seeded.a_instance}"
    claim = app_client.post(f"{page}/claim", data={"csrf_token": token(app_client, page)})
    assert claim.status_code == 200 and "Instansen er taget." in claim.text
    assert seeded.store.instance(seeded.a_instance).claimed_by == "monitor"
    # a partial grade needs a comment
    refused = app_client.post(
        f"{page}/grade", data={"csrf_token": token(app_client, page), "grade": "partial"}
    )
    assert refused.status_code == 400 and "En kommentar er påkrævet." in refused.text
    # an attachment over the cap refuses the whole act, nothing stored
    too_big = app_client.post(
        f"{page}/grade",
        data={"csrf_token": token(app_client, page), "grade": "failed", "comment": "x"},
        files={"attachments": ("big.log", b"x" * (LIMITS.max_attachment + 1), "text/plain")},
    )
    assert too_big.status_code == 413
    assert [g.kind for g in seeded.store.grades(seeded.a_instance)] == ["auto", "claim"]
    graded = app_client.post(
        f"{page}/grade",
        data={
            "csrf_token": token(app_client, page),
            "grade": "failed",
            "comment": "Viewer got <no> plan",
        },
        files={"attachments": ("../../etc/screen shot.png", b"\x89PNG fake", "image/png")},
    )
    assert graded.status_code == 200 and "Bedømmelsen er gemt." in graded.text
    instance = seeded.store.instance(seeded.a_instance)
    assert instance.grade == "failed"
    last = seeded.store.grades(seeded.a_instance)[-1]
    assert (last.kind, last.by, last.grade, last.comment) == (
        "monitor",
        "monitor",
        "failed",
        "Viewer got <no> plan",
    )
    assert len(last.attachments) == 1
    assert "Viewer got &lt;no&gt; plan" in graded.text
    link = f"{page}/attachments/{last.attachments[0]}"
    assert f'href="{link}"' in graded.text
    download = app_client.get(link)
    assert download.status_code == 200 and download.content == b"\x89PNG fake"
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="screen shot.png"'
    )
    # the attachment is reached only through its own instance
    other = f"/instances/{seeded.b_instance}/attachments/{last.attachments[0]}"
    assert app_client.get(other).status_code == 404
    # graded by a monitor: off the worklist
    assert seeded.a_instance not in app_client.get(f"/sessions/{seeded.session_id}/worklist").text


def test_claimed_by_another_monitor_cannot_be_graded(
    app_client: TestClient, seeded: Seeded
) -> None:
    assert login(app_client, "admin") == 303
    page = f"/instances/{seeded.a_instance}"
    app_client.post(f"{page}/claim", data={"csrf_token": token(app_client, page)})
    assert login(app_client, "monitor") == 303
    answer = app_client.post(
        f"{page}/grade", data={"csrf_token": token(app_client, page), "grade": "verified"}
    )
    assert answer.status_code == 409 and "taget af admin" in answer.text


def test_reopen_and_admin_override_in_the_audit_trail(
    app_client: TestClient, seeded: Seeded
) -> None:
    page = f"/instances/{seeded.b_instance}"
    assert login(app_client, "monitor") == 303
    work = f"/sessions/{seeded.session_id}/worklist"
    # verified by kcert, signed off by nobody: on the worklist's second list
    assert seeded.b_instance in app_client.get(work).text.split('id="worklist-auto"')[1]
    reopened = app_client.post(
        f"{page}/reopen",
        data={"csrf_token": token(app_client, page), "comment": "recheck the receipt"},
    )
    assert reopened.status_code == 200
    assert seeded.store.instance(seeded.b_instance).grade == "waiting"
    # a monitor cannot override
    denied = app_client.post(
        f"{page}/override",
        data={"csrf_token": token(app_client, page), "grade": "verified", "comment": "x"},
    )
    assert denied.status_code == 403
    assert login(app_client, "admin") == 303
    no_comment = app_client.post(
        f"{page}/override", data={"csrf_token": token(app_client, page), "grade": "verified"}
    )
    assert no_comment.status_code == 400
    done = app_client.post(
        f"{page}/override",
        data={
            "csrf_token": token(app_client, page),
            "grade": "verified",
            "comment": "Receipt seen in the municipality's log",
        },
    )
    assert done.status_code == 200 and "Bedømmelsen er tilsidesat." in done.text
    acts = seeded.store.grades(seeded.b_instance)
    assert [(g.kind, g.by) for g in acts] == [
        ("auto", "kcert"),
        ("reopen", "monitor"),
        ("claim", "admin"),  # grading an unclaimed instance takes it
        ("override", "admin"),
    ]
    assert acts[-1].at and acts[-1].comment == "Receipt seen in the municipality's log"
    assert seeded.store.instance(seeded.b_instance).grade == "verified"
    assert seeded.b_instance not in app_client.get(work).text  # dealt with by a person
    audit = done.text.split('id="audit"')[1]
    assert "tilsidesat" in audit and "admin" in audit and "Receipt seen" in audit


# -- live ---------------------------------------------------------------------------------


def test_instance_json_and_bounded_event_stream(app_client: TestClient, seeded: Seeded) -> None:
    assert login(app_client, "monitor") == 303
    data = app_client.get(f"/api/instances/{seeded.a_instance}").json()
    assert data["status"] == "done" and data["grade"] == "waiting"
    assert [s["step_id"] for s in data["steps"]] == ["share", "fetch"]
    assert data["exchanges"][0]["exchange_id"] == seeded.a_exchange
    with app_client.stream("GET", f"/api/sessions/{seeded.session_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        text = "".join(stream.iter_text())
    assert text.startswith("retry: ")
    assert text.count("event: update") == 1  # nothing changed after the first snapshot
    assert ": heartbeat" in text
    assert text.rstrip().endswith("event: end\ndata: {}")


# -- languages ----------------------------------------------------------------------------


def test_danish_default_english_by_query_and_cookie(seeded: Seeded) -> None:
    with TestClient(create_app(seeded.store, limits=LIMITS)) as client:
        assert "<h1>Log ind</h1>" in client.get("/login").text
        english = client.get("/login?lang=en")
        assert "<h1>Sign in</h1>" in english.text and 'lang="en"' in english.text
        assert "kcert_lang=en" in english.headers["set-cookie"]
        assert "<h1>Sign in</h1>" in client.get("/login").text  # the cookie remembers
        assert 'href="/login?lang=da"' in client.get("/login").text  # the toggle
        assert login(client, "monitor") == 303
        matrix = client.get(f"/sessions/{seeded.session_id}").text
        assert "Results matrix" in matrix and SCENARIO.scenario_id in matrix
    with TestClient(create_app(seeded.store, lang="en", limits=LIMITS)) as client:
        assert "<h1>Sign in</h1>" in client.get("/login").text
        assert "<h1>Log ind</h1>" in client.get("/login?lang=da").text


# -- kcert connectathon serve -------------------------------------------------------------


def _serve_args(tmp_path: Path, **kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "store": f"sqlite:///{tmp_path / STORE_FILE}",
        "reports": tmp_path,
        "session": None,
        "host": "127.0.0.1",
        "port": 8765,
        "lang": "da",
    }
    base.update(kw)
    return argparse.Namespace(**base)


def test_serve_refuses_a_non_loopback_host_and_an_unknown_session(
    seeded: Seeded, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert serve_command(_serve_args(tmp_path, host="0.0.0.0")) == 2
    assert "--host 0.0.0.0: the connectathon web application binds to a loopback" in (
        capsys.readouterr().err
    )
    assert serve_command(_serve_args(tmp_path, session="no-such")) == 2
    assert "--session no-such: no such session" in capsys.readouterr().err


def test_serve_answers_on_loopback(seeded: Seeded, tmp_path: Path) -> None:
    code = (
        "import sys, argparse; from harness.connectathon.web.serve import serve_command; "
        f"sys.exit(serve_command(argparse.Namespace(store={seeded.store.url!r}, "
        f"reports={str(tmp_path)!r}, session={seeded.session_id!r}, host='127.0.0.1', "
        "port=0, lang='en')))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "serve printed no URL within 30 s"
        line = proc.stdout.readline().decode()
        assert line.startswith("kcert connectathon: http://127.0.0.1:"), (
            line + proc.stderr.read().decode()
        )
        base = line.split(": ", 1)[1].strip().rstrip("/")
        with httpx.Client(base_url=base, timeout=5) as client:
            answer = None
            deadline = time.monotonic() + 20
            while answer is None and time.monotonic() < deadline:
                try:
                    answer = client.get("/login")
                except httpx.TransportError:  # the socket is bound before uvicorn serves
                    time.sleep(0.05)
            assert answer is not None
            assert answer.status_code == 200 and "<h1>Sign in</h1>" in answer.text
            assert answer.headers["x-frame-options"] == "DENY"
            assert client.get("/").status_code == 303  # to the login page first
            form = CSRF_INPUT.search(answer.text)
            assert form is not None
            client.post(
                "/login",
                data={"username": "monitor", "password": PASSWORD, "csrf_token": form.group(1)},
            )
            matrix = client.get("/", follow_redirects=True)  # --session: its matrix
            assert matrix.status_code == 200 and SCENARIO.title_en in matrix.text
    finally:
        proc.terminate()
        proc.wait(10)
