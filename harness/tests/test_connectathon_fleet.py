"""The reference LPS fleet: members side by side, each its own port and defects, all stopped."""

from __future__ import annotations

import time

import pytest
import requests

from harness.connectathon.fleet import FleetError, MemberSpec, running_fleet
from harness.session.sut import SutChoice


def _get(url: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    return session.get(url, timeout=5)


def test_two_members_with_different_defects_answer_and_all_stop() -> None:
    specs = [
        MemberSpec("alfa", "Alfa ApS"),
        MemberSpec("bravo", "Bravo A/S", defects=("ack-wrong-reference", "qrd-ignored")),
    ]
    with running_fleet(specs) as members:
        assert [m.name for m in members] == ["alfa", "bravo"]
        assert members[0].base_url != members[1].base_url
        for member in members:
            assert member.base_url.startswith("http://127.0.0.1:")
            assert _get(member.health_url).status_code == 200
        # still up a while later: the members outlive the threads that were busy starting
        time.sleep(2.0)
        for member in members:
            assert _get(member.health_url).status_code == 200
        assert members[1].defects == ("ack-wrong-reference", "qrd-ignored")
        assert members[1].config.defects == ("ack-wrong-reference", "qrd-ignored")
        # the registration is what a registered system carries: read the one way
        choice = SutChoice.from_registration(members[1].registration)
        config = choice.configured()
        assert config.vendor == "Bravo A/S"
        assert config.endpoints["agent"] == members[1].config.endpoints["agent"]
        urls = [m.health_url for m in members]
    for url in urls:
        with pytest.raises(requests.ConnectionError):
            _get(url)


def test_a_member_that_cannot_start_stops_the_others() -> None:
    specs = [MemberSpec("alfa", "Alfa ApS"), MemberSpec("bad", "Bad", defects=("no-such-defect",))]
    with pytest.raises(FleetError, match=r"bad: .*no-such-defect"), running_fleet(specs, 60):
        pass


def test_specs_are_checked_before_anything_starts() -> None:
    twice = [MemberSpec("a", "A"), MemberSpec("a", "B")]
    with pytest.raises(FleetError, match="used twice: a"), running_fleet(twice):
        pass
    with pytest.raises(FleetError, match="at least one"), running_fleet([]):
        pass
