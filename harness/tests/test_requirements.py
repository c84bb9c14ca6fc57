"""Requirement titles: every national-plan id a protocol names has a Danish and English title."""

from __future__ import annotations

import pytest

from harness.model.protocol import Protocol
from harness.report.requirements import (
    RequirementDataError,
    is_official,
    parse,
    requirement_title,
    requirement_titles,
)


def test_every_requirement_a_protocol_uses_has_a_title(protocols: list[Protocol]) -> None:
    used = {req for p in protocols for c in p.cases for req in c.requirements}
    assert used, "the protocols name no requirement"
    missing = sorted(used - set(requirement_titles()))
    assert not missing, f"no title in harness/report/requirements.yaml for {missing}"
    for req in used:
        assert requirement_title(req, "da") and requirement_title(req, "en")


def test_the_plans_own_wording_is_kept_and_marked() -> None:
    assert requirement_title("MVP1-KC-04", "da") == (
        "MedCom test og certificering af KC i de seks LPS"
    )
    assert is_official("MVP1-KC-04")
    assert not is_official("MVP1-LPS-03")  # kcert's own description until the plan's is entered
    assert requirement_title("MVP9-XX-99", "da") == "" and not is_official("MVP9-XX-99")


GOOD = """kcert-requirements: 1
requirements:
  MVP1-KC-04: {wording: plan, da: Dansk titel, en: English title}
"""


def test_good_data_parses() -> None:
    titles = parse(GOOD, "t.yaml")
    assert titles["MVP1-KC-04"].text("en") == "English title"
    assert titles["MVP1-KC-04"].text("da") == "Dansk titel"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("requirements: {}", "kcert-requirements: 1"),
        ("kcert-requirements: 1\nrequirements: [a]", "must map ids"),
        (GOOD.replace("en: English title", "en: ''"), "MVP1-KC-04.en: missing title"),
        (GOOD.replace("wording: plan", "wording: maybe"), "MVP1-KC-04.wording"),
        ("kcert-requirements: 1\nrequirements: {MVP1-KC-04: text}", "expected da, en"),
        ("kcert-requirements: [", "not YAML"),
    ],
)
def test_bad_data_names_the_field(text: str, message: str) -> None:
    with pytest.raises(RequirementDataError, match=message) as caught:
        parse(text, "t.yaml")
    assert str(caught.value).startswith("t.yaml: ")
