"""Cockpit rules: each one fires on its fault and stays quiet on the oracle's own answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harness.checks import CHECKS, CheckContext
from harness.fixtures import FIXTURES_DIR
from harness.model.exchange import Exchange
from harness.model.outcome import Severity
from harness.population.reader import load_population

AS_OF = "2027-03-01"
POPULATION = load_population(FIXTURES_DIR / "populations" / "hand-written.json")


def exchange(body: Any, status: int = 200, ct: str = "application/json") -> Exchange:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Exchange("GET", "http://x", {}, b"", status, {"Content-Type": ct}, raw)


def ctx(*exchanges: Exchange, **notes: Any) -> CheckContext:
    return CheckContext(
        "2",
        exchanges[0],
        Severity.F2,
        None,
        {},
        {},
        {},
        exchanges=list(exchanges),
        notes=notes,
        state={"population": POPULATION},
    )


def rules(kind: str, context: CheckContext) -> list[str]:
    return [f.rule_id for f in CHECKS.get(kind).func(context)]


SHOWN = {"0606519913": {"value": 151.0, "date": "2026-12-01"}}  # its deciding BP


def members(*cprs: str) -> dict[str, Any]:
    return {
        "profile": "p",
        "asOf": AS_OF,
        "members": [
            {"cpr": c, "name": "", "planLink": f"patients/{c}/plan", "values": SHOWN.get(c, {})}
            for c in cprs
        ],
    }


BP = ("kol-blodtryk-over-150", AS_OF)


def test_members_quiet_when_exact() -> None:
    assert (
        rules(
            "members-match-oracle", ctx(exchange(members("0606519913")), profile=BP[0], as_of=AS_OF)
        )
        == []
    )


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (members(), 200, ["COCKPIT-MISSING"]),
        (members("0606519913", "0505509902"), 200, ["COCKPIT-EXTRA"]),
        (members("0606519913", "0606519913"), 200, ["COCKPIT-DUPLICATE"]),
        ({"rows": []}, 200, ["COCKPIT-FORMAT"]),
        ({"title": "no"}, 500, ["COCKPIT-HTTP"]),
    ],
)
def test_members_rules_fire(body: Any, status: int, expected: list[str]) -> None:
    found = list(
        CHECKS.get("members-match-oracle").func(
            ctx(exchange(body, status), profile=BP[0], as_of=AS_OF)
        )
    )
    assert [f.rule_id for f in found] == expected


def test_missing_and_extra_say_why() -> None:
    found = list(
        CHECKS.get("members-match-oracle").func(
            ctx(exchange(members("0505509902")), profile=BP[0], as_of=AS_OF)
        )
    )
    text = {f.rule_id: f.message for f in found}
    assert "0606519913 Ole Gammeldata is missing" in text["COCKPIT-MISSING"]
    assert "151 on 2026-12-01" in text["COCKPIT-MISSING"]
    assert "0505509902 Inge Grænse is listed but does not belong" in text["COCKPIT-EXTRA"]
    assert "150 on 2026-10-01" in text["COCKPIT-EXTRA"]


def test_extra_ineligible_patient_names_the_reason() -> None:
    found = list(
        CHECKS.get("members-match-oracle").func(
            ctx(
                exchange(
                    members(
                        "0103099904",
                        "0505509902",
                        "0606519913",
                        "0707479906",
                        "0808489917",
                        "0909499908",
                        "2210529931",
                        "2602559935",
                        "1010409919",
                    )
                ),
                profile="kol-inkluderet",
                as_of=AS_OF,
            )
        )
    )
    assert [f.rule_id for f in found] == ["COCKPIT-EXTRA"]
    assert "deceased" in found[0].message


def test_exported_csv_is_compared_too() -> None:
    csv_ok = exchange(b"cpr;name\n".replace(b";", b",") + b"0606519913,Ole\n", ct="text/csv")
    assert rules("members-match-oracle", ctx(csv_ok, profile=BP[0], as_of=AS_OF)) == []
    csv_bad = exchange(b"patient\n0606519913\n", ct="text/csv")
    assert rules("members-match-oracle", ctx(csv_bad, profile=BP[0], as_of=AS_OF)) == [
        "COCKPIT-FORMAT"
    ]


def test_profiles_offered() -> None:
    from harness.checks.oracle_view import rulepack

    ids = [{"id": p.id, "version": "1", "title": ""} for p in rulepack().profiles]
    assert rules("profiles-offered", ctx(exchange({"profiles": ids}))) == []
    assert rules("profiles-offered", ctx(exchange({"profiles": ids[1:]}))) == [
        "COCKPIT-PROFILE-MISSING"
    ]
    assert rules("profiles-offered", ctx(exchange([1]))) == ["COCKPIT-FORMAT"]


def plan(cpr: str, **strat: str | None) -> Exchange:
    return exchange(
        {
            "cpr": cpr,
            "name": "",
            "asOf": AS_OF,
            "stratification": strat,
            "goals": [],
            "measurements": [],
        }
    )


def test_links_resolve() -> None:
    assert rules("links-resolve", ctx(plan("0505509902"), expected_cprs=["0505509902"])) == []
    assert rules("links-resolve", ctx(plan("0606519913"), expected_cprs=["0505509902"])) == [
        "COCKPIT-LINK"
    ]
    assert rules("links-resolve", ctx(exchange({}, 404), expected_cprs=["0505509902"])) == [
        "SUT-OPERATION-MISSING"
    ]
    assert rules("links-resolve", ctx(exchange({}, 500), expected_cprs=["0505509902"])) == [
        "COCKPIT-PLAN-HTTP"
    ]
    assert rules("links-resolve", ctx(exchange([]), expected_cprs=["0505509902"])) == [
        "COCKPIT-FORMAT"
    ]


def test_plans_match_oracle() -> None:
    good = [
        full_plan("0505509902", INGE, kol="yellow"),
        full_plan(
            "0707479906",
            [
                {"code": "DNK05472", "date": "2026-12-15", "value": 140.0},
                {"code": "MCS88137", "date": "2026-12-15", "value": 12.0},
            ],
            kol="red",
        ),
        full_plan(
            "2210529931",
            [{"code": "MCS88021", "date": "2026-09-01", "value": 5.0}],
            kol="yellow",
            lrs=None,
        ),
    ]
    cprs = ["0505509902", "0707479906", "2210529931"]
    assert rules("plans-match-oracle", ctx(*good, expected_cprs=cprs, as_of=AS_OF)) == []
    swapped = [full_plan("0505509902", INGE, kol="red"), *good[1:]]
    found = list(
        CHECKS.get("plans-match-oracle").func(ctx(*swapped, expected_cprs=cprs, as_of=AS_OF))
    )
    assert [f.rule_id for f in found] == ["COCKPIT-COLOUR"]
    assert "expected 'yellow'" in found[0].message and "MRC 3" in found[0].message
    wrong = [full_plan("0606519913", [], kol=None)]
    assert rules("plans-match-oracle", ctx(*wrong, expected_cprs=cprs[:1], as_of=AS_OF)) == [
        "COCKPIT-LINK"
    ]


@pytest.mark.parametrize(
    ("status", "ct", "body", "expected"),
    [
        (404, "application/problem+json", {"title": "x", "status": 404}, []),
        (400, "application/problem+json", {"title": "x", "status": 400}, ["CONTRACT-STATUS"]),
        (404, "application/json", {"detail": "x"}, ["CONTRACT-PROBLEM"]),
    ],
)
def test_problem_document(status: int, ct: str, body: Any, expected: list[str]) -> None:
    found = list(CHECKS.get("problem-document").func(ctx(exchange(body, status, ct)), status=404))
    assert [f.rule_id for f in found] == expected


def test_no_population_is_kcerts_error() -> None:
    from harness.checks.oracle_view import NoPopulation

    context = ctx(exchange(members()), profile=BP[0], as_of=AS_OF)
    context.state = {}
    with pytest.raises(NoPopulation):
        rules("members-match-oracle", context)


def test_hand_written_population_file_exists() -> None:
    assert Path(FIXTURES_DIR / "populations" / "hand-written.json").is_file()


def test_row_values_must_show_the_deciding_measurement() -> None:
    def row(value: Any, date: str) -> dict[str, Any]:
        return {
            "profile": "p",
            "asOf": AS_OF,
            "members": [
                {
                    "cpr": "0606519913",
                    "name": "",
                    "planLink": "x",
                    "values": {"value": value, "date": date},
                }
            ],
        }

    good = ctx(exchange(row(151.0, "2026-12-01")), profile=BP[0], as_of=AS_OF)
    assert rules("members-match-oracle", good) == []
    stale = ctx(exchange(row(160.0, "2025-02-28")), profile=BP[0], as_of=AS_OF)
    assert rules("members-match-oracle", stale) == ["COCKPIT-VALUE"]
    bare = {
        "profile": "p",
        "asOf": AS_OF,
        "members": [{"cpr": "0606519913", "name": "", "planLink": "x"}],
    }
    assert rules("members-match-oracle", ctx(exchange(bare), profile=BP[0], as_of=AS_OF)) == [
        "COCKPIT-VALUE"
    ]


def full_plan(
    cpr: str, measurements: list[dict[str, Any]], goals: bool = True, **strat: str | None
) -> Exchange:
    return exchange(
        {
            "cpr": cpr,
            "name": "",
            "asOf": AS_OF,
            "stratification": strat,
            "goals": [{"text": "mål"}] if goals else [],
            "measurements": measurements,
        }
    )


INGE = [  # 0505509902: BP 150 on 2026-10-01, MRC 3 on 2025-03-01
    {"code": "DNK05472", "date": "2026-10-01", "value": 150.0},
    {"code": "MCS88021", "date": "2025-03-01", "value": 3.0},
]


def test_plan_measurements_stale_data_and_goals() -> None:
    def check(*plans: Exchange) -> list[str]:
        return rules("plans-match-oracle", ctx(*plans, expected_cprs=["0505509902"], as_of=AS_OF))

    assert check(full_plan("0505509902", INGE, kol="yellow")) == []
    assert check(full_plan("0505509902", INGE[:1], kol="yellow")) == ["COCKPIT-PLAN-MEASUREMENT"]
    old = [*INGE, {"code": "DNK05473", "date": "2025-02-28", "value": 90}]
    assert check(full_plan("0505509902", old, kol="yellow")) == ["COCKPIT-STALE"]
    assert check(full_plan("0505509902", INGE, goals=False, kol="yellow")) == ["COCKPIT-GOALS"]
