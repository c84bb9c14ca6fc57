"""Synthetic persons only, and templates that give fresh ids on every rendering."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from harness.fixtures import TemplateError, TemplateRenderer, load_peers, load_persons
from harness.synthetic import birth_date, is_synthetic_cpr, synthetic_cpr_problem
from harness.yamlsource import SourceError


@pytest.mark.parametrize(
    ("cpr", "born"),
    [
        ("0503559912", dt.date(1955, 3, 5)),
        ("0101009950", dt.date(2000, 1, 1)),
        ("0101379950", dt.date(1937, 1, 1)),
        ("0101585999", dt.date(1858, 1, 1)),
        ("0101584999", dt.date(1958, 1, 1)),
        ("3102559912", None),
        ("12345", None),
    ],
)
def test_birth_date_with_century_rule(cpr: str, born: dt.date | None) -> None:
    assert birth_date(cpr) == born


def test_synthetic_range() -> None:
    assert is_synthetic_cpr("0503559912")
    assert not is_synthetic_cpr("0503551234")  # a plausible real number is refused
    assert "outside kcert's synthetic range" in synthetic_cpr_problem("0503551234")
    assert "xxxx" in synthetic_cpr_problem("0503551234")  # never echo the serial back
    assert "calendar date" in synthetic_cpr_problem("3102559912")


def test_persons_with_real_looking_cpr_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "persons.yaml"
    path.write_text(
        "persons:\n"
        "  - {key: a, cpr: '0503559912', given: A, family: B, gender: female,\n"
        "     birthDate: '1955-03-05'}\n"
        "  - key: b\n"
        "    cpr: '1208481234'\n"
        "    given: C\n    family: D\n    gender: male\n    birthDate: '1948-08-12'\n",
        encoding="utf-8",
    )
    with pytest.raises(SourceError) as err:
        load_persons(path)
    assert str(err.value).startswith(f"{path}:5: persons[1].cpr: ")
    assert "1234" not in str(err.value)


def test_shipped_fixtures_are_synthetic() -> None:
    persons = load_persons()
    assert persons and all(is_synthetic_cpr(p["cpr"]) for p in persons.values())
    assert {"kommune", "sygehus"} <= set(load_peers())


def test_rendering_gives_fresh_ids_each_time() -> None:
    renderer = TemplateRenderer()
    context = {
        "patient": load_persons()["kol-karen"],
        "peer": load_peers()["kommune"],
        "sut": {"sor": "1", "gln": "2", "name": "x"},
    }
    first = renderer.render("messages/carecommunication.json.j2", context)
    second = renderer.render("messages/carecommunication.json.j2", context)
    assert first.ids["header"] != second.ids["header"]
    assert first.resource["entry"][0]["resource"]["id"] == first.ids["header"]
    assert first.resource["entry"][0]["resource"]["focus"][0]["reference"] == (
        f"Communication/{first.ids['communication']}"
    )


def test_template_errors_are_clear() -> None:
    renderer = TemplateRenderer()
    with pytest.raises(TemplateError, match="not found"):
        renderer.render("messages/none.json.j2", {})
    with pytest.raises(TemplateError, match="undefined"):
        renderer.render("messages/carecommunication.json.j2", {})


def test_template_variables_follow_an_edited_template(tmp_path: Path) -> None:
    # the renderer keeps what it parsed, keyed by the text: an edit is read anew
    (tmp_path / "t.json.j2").write_text('{"a": {{ vars.one | tojson }}}', encoding="utf-8")
    renderer = TemplateRenderer(tmp_path)
    assert renderer.variables("t.json.j2") == {"one"}
    assert renderer.variables("t.json.j2") == {"one"}
    (tmp_path / "t.json.j2").write_text('{"a": {{ vars["two"] | tojson }}}', encoding="utf-8")
    assert renderer.variables("t.json.j2") == {"two"}
