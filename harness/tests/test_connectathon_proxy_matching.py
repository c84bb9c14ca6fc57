"""Recorded exchanges are matched to a test instance step: by kcert's header first, then by
source/target system and time; none or several candidates leave an exchange unmatched, and
unmatched exchanges stay listed. Real proxy, real store (SQLite)."""

from __future__ import annotations

import datetime as dt

from harness.connectathon.model import (
    INSTANCE_HEADER,
    SIMULATED,
    STEP_HEADER,
    Binding,
    InstanceStep,
    RecordedExchange,
    TestInstance,
)
from harness.connectathon.proxy import EndpointSpec, RecordingProxy
from harness.connectathon.proxy.matching import SYSTEM_HEADER
from harness.connectathon.store import ConnectathonStore
from harness.tests import connectathon_proxy_kit as kit
from harness.tests.connectathon_proxy_kit import (
    WAIT,
    exchange_raw,
    port_of,
    raw_target,
)

LPS_A, LPS_B, KOMMUNE = "vendor-a-lps", "vendor-b-lps", "vendor-c-kommune"


store, session = kit.store, kit.session  # the shared fixtures (a SQLite store, a session)


def _ago(seconds: float) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)).isoformat(timespec="seconds")


def _instance(
    session: str, instance_id: str, lps: str, status: str = "running", started: str = ""
) -> TestInstance:
    return TestInstance(
        instance_id,
        session,
        "ref01",
        (Binding("lps", lps), Binding("municipality", KOMMUNE)),
        status="running" if status == "running" else "done",
        started=started or _ago(60),
    )


def _send(
    store: ConnectathonStore, session: str, headers: dict[str, str], target_system: str = KOMMUNE
) -> RecordedExchange:
    """One POST through the proxy's endpoint for `target_system` as municipality."""
    with raw_target() as target:
        spec = EndpointSpec(target_system, "municipality", target.url)
        with RecordingProxy(store, session, [spec], validate=False) as proxy:
            extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode()
            port = port_of(proxy.url_for(spec.endpoint_id))
            exchange_raw(
                port, b"POST /Bundle HTTP/1.1\r\nHost: h\r\n" + extra + b"Content-Length: 0\r\n\r\n"
            )
            assert proxy.settle(WAIT)
    found = store.exchanges(session)
    return found[-1]


def test_header_match_names_the_instance_and_step(store: ConnectathonStore, session: str) -> None:
    store.add_instances(
        [_instance(session, "i-1", LPS_A), _instance(session, "i-2", LPS_B)]  # ambiguous by time
    )
    store.save_steps("i-1", [InstanceStep("i-1", "refer", 1, "lps", "municipality", "Henvisning")])
    recorded = _send(store, session, {INSTANCE_HEADER: "i-1", STEP_HEADER: "refer"})
    assert (recorded.match, recorded.instance_id, recorded.step_id) == ("header", "i-1", "refer")
    assert recorded.source == LPS_A  # the step's sender role, as bound in the instance


def test_header_naming_no_instance_falls_back_to_address_and_time(
    store: ConnectathonStore, session: str
) -> None:
    store.add_instances([_instance(session, "i-1", LPS_A)])
    recorded = _send(store, session, {INSTANCE_HEADER: "no-such-instance"})
    assert (recorded.match, recorded.instance_id) == ("address-time", "i-1")


def test_address_time_match_with_one_running_instance(
    store: ConnectathonStore, session: str
) -> None:
    store.add_instances(
        [
            _instance(session, "i-1", LPS_A),
            _instance(session, "i-done", LPS_B, status="done"),  # not running: not a candidate
            _instance(
                session,
                "i-later",
                LPS_B,
                started=(dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat(),
            ),  # starts after the exchange
        ]
    )
    store.save_steps(
        "i-1",
        [
            InstanceStep("i-1", "refer", 1, "lps", "municipality", "Henvisning"),
            InstanceStep("i-1", "receipt", 2, "municipality", "lps", "Kvittering"),
        ],
    )
    recorded = _send(store, session, {})
    assert (recorded.match, recorded.instance_id) == ("address-time", "i-1")
    assert recorded.step_id == "refer"  # the one step the municipality receives
    assert recorded.source == LPS_A  # the step's sender role, as bound
    assert recorded.target == KOMMUNE


def test_the_sender_naming_itself_narrows_the_candidates(
    store: ConnectathonStore, session: str
) -> None:
    store.add_instances([_instance(session, "i-1", LPS_A), _instance(session, "i-2", LPS_B)])
    recorded = _send(store, session, {SYSTEM_HEADER: LPS_B})
    assert (recorded.match, recorded.instance_id, recorded.source) == (
        "address-time",
        "i-2",
        LPS_B,
    )


def test_ambiguous_and_unknown_traffic_is_unmatched_and_listed(
    store: ConnectathonStore, session: str
) -> None:
    store.add_instances([_instance(session, "i-1", LPS_A), _instance(session, "i-2", LPS_B)])
    ambiguous = _send(store, session, {})
    assert (ambiguous.match, ambiguous.instance_id) == ("unmatched", "")
    assert any("2 running instances fit (i-1, i-2)" in f["message"] for f in ambiguous.findings)
    nobody = _send(store, session, {}, target_system="vendor-z-unknown")
    assert (nobody.match, nobody.instance_id) == ("unmatched", "")
    assert any("no running instance" in f["message"] for f in nobody.findings)
    listed = store.exchanges(session, unmatched=True)
    assert {e.exchange_id for e in listed} == {ambiguous.exchange_id, nobody.exchange_id}
    assert store.exchange(ambiguous.exchange_id).match == "unmatched"  # a permanent id


def test_simulated_role_endpoint(store: ConnectathonStore, session: str) -> None:
    instance = TestInstance(
        "i-sim",
        session,
        "ref01",
        (Binding("lps", LPS_A), Binding("municipality", SIMULATED)),
        status="running",
        started=_ago(5),
    )
    store.add_instances([instance])
    recorded = _send(store, session, {}, target_system=SIMULATED)
    assert (recorded.match, recorded.instance_id, recorded.target) == (
        "address-time",
        "i-sim",
        SIMULATED,
    )


def test_among_several_fitting_steps_the_running_one(
    store: ConnectathonStore, session: str
) -> None:
    store.add_instances([_instance(session, "i-1", LPS_A)])
    store.save_steps(
        "i-1",
        [
            InstanceStep(
                "i-1", "refer", 1, "lps", "municipality", "Henvisning", "passed", _ago(50), _ago(40)
            ),
            InstanceStep("i-1", "remind", 2, "lps", "municipality", "Rykker", "", _ago(5)),
        ],
    )
    recorded = _send(store, session, {})
    assert (recorded.instance_id, recorded.step_id) == ("i-1", "remind")
