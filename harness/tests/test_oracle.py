"""Rule pack, population format, generator and oracle: the cockpit's expected answers."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.dates import age_at, shift_months, window_start
from harness.fixtures import FIXTURES_DIR, REPO_ROOT
from harness.oracle.engine import evaluate, explain
from harness.oracle.rulepack import DEFAULT_RULEPACK, load_rulepack
from harness.population.builder import BundleBuilder
from harness.population.generator import generate, to_csv
from harness.population.reader import load_population, read_population, validate_population
from harness.yamlsource import SourceError

HAND = FIXTURES_DIR / "populations" / "hand-written.json"
EXPECTED = yaml.safe_load((FIXTURES_DIR / "expected" / "hand-written-members.yaml").read_text())
AS_OF = dt.date.fromisoformat(EXPECTED["as_of"])
PACK = load_rulepack()


def kcert(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


@pytest.mark.parametrize("profile", sorted(EXPECTED["profiles"]))
def test_hand_written_population_gives_the_table_members(profile: str) -> None:
    result = evaluate(PACK, load_population(HAND), AS_OF)
    assert sorted(result.member_cprs(profile)) == sorted(EXPECTED["profiles"][profile])


def test_every_profile_of_the_pack_is_in_the_expectation() -> None:
    assert {p.id for p in PACK.profiles} == set(EXPECTED["profiles"])
    assert len(PACK.profiles) == 17


def test_oracle_members_command_on_the_hand_written_file() -> None:
    done = kcert(
        "oracle",
        "members",
        "--population",
        str(HAND),
        "--as-of",
        "2027-03-01",
        "--profile",
        "kol-opfoelgning-overskredet",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert [m["cpr"] for m in payload["members"]] == EXPECTED["profiles"][
        "kol-opfoelgning-overskredet"
    ]
    assert payload["members"][0]["clauses"][-1]["detail"] == "no follow-up at all (colour none)"


def test_oracle_explain_says_why() -> None:
    info = explain(evaluate(PACK, load_population(HAND), AS_OF), "1604469925")
    clause = info["profiles"]["t2d-egfr-under-60"]["clauses"][-1]
    assert not clause["holds"] and "is not a number" in clause["detail"]
    done = kcert(
        "oracle",
        "explain",
        "--population",
        str(HAND),
        "--as-of",
        "2027-03-01",
        "--cpr",
        "1010409919",
    )
    assert done.returncode == 0 and "in no profile: deceased" in done.stdout


def test_oracle_usage_errors() -> None:
    done = kcert(
        "oracle",
        "members",
        "--population",
        str(HAND),
        "--as-of",
        "2027-03-01",
        "--profile",
        "no-such",
    )
    assert done.returncode == 2 and "unknown profile 'no-such'" in done.stdout
    done = kcert(
        "oracle", "members", "--population", str(HAND), "--as-of", "01-03-2027", "--profile", "x"
    )
    assert done.returncode == 2 and "expected a date" in done.stderr


def test_generation_is_byte_identical_and_seeded(tmp_path: Path) -> None:
    paths = []
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        out, csv_out = tmp_path / f"{name}.json", tmp_path / f"{name}.csv"
        done = kcert(
            "population",
            "generate",
            "--seed",
            str(seed),
            "--size",
            "300",
            "--as-of",
            "2027-03-01",
            "--out",
            str(out),
            "--csv",
            str(csv_out),
        )
        assert done.returncode == 0, done.stderr
        paths.append((out.read_bytes(), csv_out.read_bytes()))
    assert paths[0] == paths[1]
    assert paths[0][0] != paths[2][0]
    assert kcert("population", "validate", str(tmp_path / "a.json")).returncode == 0


def _by_family(bundle: dict, as_of: dt.date) -> dict[str, dict[str, bool]]:  # type: ignore[type-arg]
    population, problems = read_population(bundle)
    assert problems == []
    result = evaluate(PACK, population, as_of)
    return {
        v.patient.family: {p: pv.member for p, pv in v.profiles.items()}
        for v in result.verdicts.values()
    }


@pytest.mark.parametrize(
    "as_of",
    [dt.date(2027, 3, 1), dt.date(2028, 2, 29), dt.date(2027, 8, 31), dt.date(2027, 5, 31)],
)
def test_generated_boundaries_land_on_the_right_side(as_of: dt.date) -> None:
    made = generate(9, 120, as_of, "999991000016008")
    fam = _by_family(made.bundle, as_of)
    assert not fam["Grænseblodtryk"]["kol-blodtryk-over-150"]
    assert fam["Overgrænse"]["kol-blodtryk-over-150"]
    assert fam["Toårig"]["kol-stratificering-gul"] and fam["Toårig"]["kol-blodtryk-over-150"]
    assert not fam["Toårigplusendag"]["kol-blodtryk-over-150"]
    assert not any(
        fam["Toårigplusendag"][f"kol-stratificering-{c}"] for c in ("roed", "gul", "groen")
    )
    assert fam["Attenidag"]["kol-inkluderet"] and not fam["Attenimorgen"]["kol-inkluderet"]
    assert not fam["Årskontrolgrænse"]["kol-mangler-aarskontrol"]
    assert fam["Årskontrolgrænse"]["kol-mangler-kronikerhonorar"]
    assert fam["Årskontrolplusendag"]["kol-mangler-aarskontrol"]
    assert not fam["Årskontrolplusendag"]["kol-mangler-kronikerhonorar"]
    assert fam["Indlagtgrænse"]["kol-stratificering-roed"]
    assert not fam["Indlagtforgammel"]["kol-stratificering-roed"]
    assert fam["Toeksacerbationer"]["kol-stratificering-roed"]
    assert fam["Eneksacerbation"]["kol-stratificering-groen"]
    assert not fam["Opfølgningforfalder"]["kol-opfoelgning-overskredet"]
    assert fam["Opfølgningoverskredet"]["kol-opfoelgning-overskredet"]
    assert not fam["Gruppeto"]["kol-mangler-kronikerhonorar"]
    assert not fam["Fremtidsmåling"]["kol-blodtryk-over-150"]
    assert not fam["Fremtidsdiagnose"]["kol-inkluderet"]
    assert not fam["Død"]["kol-inkluderet"] and fam["Dørsenere"]["kol-inkluderet"]
    assert not fam["Fraflyttet"]["kol-inkluderet"] and not fam["Andenklinik"]["kol-inkluderet"]
    assert not fam["Raskmeldt"]["kol-inkluderet"] and fam["Sksdiagnose"]["kol-inkluderet"]
    assert (
        not fam["Egfrtres"]["t2d-egfr-under-60"] and fam["Egfrnioghalvtreds"]["t2d-egfr-under-60"]
    )
    assert (
        not fam["Egfrhalvfems"]["t2d-egfr-under-60"] and not fam["Egfrgammel"]["t2d-egfr-under-60"]
    )
    assert not fam["Barn"]["t2d-inkluderet"]
    assert fam["Startbacktre"]["lrs-stratificering-groen"]
    assert fam["Startbackfirepsykotre"]["lrs-stratificering-gul"]
    assert fam["Startbackfirepsykofire"]["lrs-stratificering-roed"]
    assert not fam["Startbacktolvmåneder"]["lrs-mangler-behovsvurdering"]
    assert fam["Startbackforgammel"]["lrs-mangler-behovsvurdering"]
    assert fam["Startbackufuldstændig"]["lrs-mangler-behovsvurdering"]
    assert fam["Komorbid"]["komorbiditet"] and not fam["Hjertealene"]["komorbiditet"]
    assert fam["Catti"]["kol-stratificering-gul"] and fam["Mrcto"]["kol-stratificering-groen"]
    assert fam["Eksacerbationgrænse"]["kol-stratificering-roed"]
    assert not fam["Eksacerbationforgammel"]["kol-stratificering-roed"]
    for colour in ("Rød", "Grøn"):
        assert not fam[f"{colour}opfølgning"]["kol-opfoelgning-overskredet"]
        assert fam[f"{colour}overskredet"]["kol-opfoelgning-overskredet"]
    assert fam["Egfrtoår"]["t2d-egfr-under-60"]
    assert fam["Startbacktoår"]["lrs-stratificering-roed"]
    assert not any(
        fam["Startbacktoårplusendag"][f"lrs-stratificering-{c}"] for c in ("roed", "gul", "groen")
    )


def test_generated_population_has_realistic_prevalence() -> None:
    made = generate(3, 5000, AS_OF, "999991000016008")
    population, _ = read_population(made.bundle)
    result = evaluate(PACK, population, AS_OF)
    share = {
        p: len(result.member_cprs(p)) / made.patients
        for p in ("kol-inkluderet", "t2d-inkluderet", "hjerte-inkluderet", "lrs-inkluderet")
    }
    # adults are ~84% of the list; COPD ~5-10%, T2D ~7%, low back pain ~8% of adults
    assert 0.05 < share["kol-inkluderet"] < 0.09, share
    assert 0.05 < share["t2d-inkluderet"] < 0.08, share
    assert 0.06 < share["lrs-inkluderet"] < 0.10, share
    sks = [c for p in population.patients for c in p.conditions if c.system.endswith("4.12")]
    assert sks and all(c.code.startswith(("DJ44", "DE11")) for c in sks)
    assert all(p.cpr[6:8] == "99" for p in population.patients)


def test_csv_export_has_one_row_per_fact() -> None:
    made = generate(1, 60, AS_OF, "999991000016008")
    rows = to_csv(made.bundle).splitlines()
    assert rows[0] == "cpr,kind,system,code,date,value,detail"
    assert len(rows) == len(made.bundle["entry"]) - 2 + 1  # minus two organisations, plus header


def _bundle_with(mutate: str) -> dict:  # type: ignore[type-arg]
    counter = iter(range(1000))
    b = BundleBuilder(lambda: f"00000000-0000-4000-8000-{next(counter):012d}")
    clinic = b.organization("999991000016008", "K", own=mutate != "no-clinic")
    p = b.patient(
        "0505509902" if mutate != "real-cpr" else "0505501234",
        "A",
        "B",
        "female",
        dt.date(1950, 5, 5),
        clinic,
    )
    b.condition(p, "R95")
    b.observation(p, "bp", dt.date(2026, 1, 1), 140.0)
    bundle = b.bundle()
    if mutate == "bad-date":
        bundle["entry"][3]["resource"]["effectiveDateTime"] = "yesterday"
    if mutate == "dangling":
        bundle["entry"][2]["resource"]["subject"]["reference"] = "urn:uuid:nowhere"
    if mutate == "type":
        bundle["type"] = "collection"
    return bundle


@pytest.mark.parametrize(
    ("mutate", "pointer", "needle"),
    [
        ("bad-date", "/entry/3/resource/effectiveDateTime", "expected a date"),
        ("dangling", "/entry/2/resource/subject", "does not reference a Patient"),
        ("type", "/type", "transaction"),
        ("real-cpr", "/entry/1/resource/identifier", "outside kcert's synthetic range"),
        ("no-clinic", "/entry", "own-clinic"),
    ],
)
def test_population_problems_name_the_place(mutate: str, pointer: str, needle: str) -> None:
    _, problems = read_population(_bundle_with(mutate))
    assert any(p.pointer == pointer and needle in p.message for p in problems), problems
    _, clean = read_population(_bundle_with("none"))
    assert clean == []


def test_population_validate_command_lists_problems(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_bundle_with("bad-date")), encoding="utf-8")
    done = kcert("population", "validate", str(path))
    assert done.returncode == 1
    assert f"{path}#/entry/3/resource/effectiveDateTime: expected a date" in done.stdout
    _, problems = validate_population(tmp_path / "missing.json")
    assert problems


def test_rulepack_every_parameter_is_marked_and_texts_are_filled() -> None:
    assert all(meta["source"] in ("V", "D") for meta in PACK.param_meta.values())
    texts = [c.text for p in PACK.profiles for c in p.clauses]
    assert all(t.da and t.en and "{" not in t.da + t.en for t in texts)
    assert PACK.profile("kol-blodtryk-over-150").clauses[1].text.en.endswith("> 150 mmHg")


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        ("param: bp_systolic_limit", "param: bp_limit_typo", "unknown parameter 'bp_limit_typo'"),
        ("profile: kol-inkluderet, text", "profile: komorbiditet, text", "earlier profile"),
        ("value: 150, unit: mmHg", "value: high, unit: mmHg", "is not of type 'number'"),
    ],
)
def test_broken_rulepack_is_an_error_at_file_line(
    tmp_path: Path, old: str, new: str, needle: str
) -> None:
    text = DEFAULT_RULEPACK.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "pack.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_rulepack(path)
    assert str(err.value).startswith(f"{path}:") and needle in str(err.value)


def test_threshold_lives_in_the_pack(tmp_path: Path) -> None:
    """Changing a parameter changes the members, without code changes."""
    text = DEFAULT_RULEPACK.read_text(encoding="utf-8").replace(
        "value: 150, unit: mmHg", "value: 149, unit: mmHg"
    )
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    result = evaluate(load_rulepack(path), load_population(HAND), AS_OF)
    assert "0505509902" in result.member_cprs("kol-blodtryk-over-150")


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (dt.date(2027, 3, 31), -1, dt.date(2027, 2, 28)),
        (dt.date(2028, 2, 29), -12, dt.date(2027, 2, 28)),
        (dt.date(2027, 1, 15), 13, dt.date(2028, 2, 15)),
    ],
)
def test_shift_months_clamps(day: dt.date, months: int, expected: dt.date) -> None:
    assert shift_months(day, months) == expected


def test_age_and_windows() -> None:
    assert age_at(dt.date(2009, 3, 1), dt.date(2027, 3, 1)) == 18
    assert age_at(dt.date(2009, 3, 2), dt.date(2027, 3, 1)) == 17
    assert age_at(dt.date(2008, 2, 29), dt.date(2026, 2, 28)) == 18
    assert window_start(dt.date(2027, 3, 1), 24) == dt.date(2025, 3, 1)


@pytest.mark.parametrize(
    ("old", "new", "needle"),
    [
        (
            "{id: kol-inkluderet.alder, kind: age-at-least, param: adult_age,",
            "{id: kol-inkluderet.alder, kind: age-at-least,",
            "needs param",
        ),
        ("none: followup_interval_green}", "}", "intervals needs red, yellow, green and none"),
        (
            "kind: colour-is, stratification: kol, colour: red,",
            "kind: colour-is, stratification: kol, colour: purple,",
            "colour must be one of",
        ),
        (
            "kind: colour-is, stratification: kol, colour: red,",
            "kind: colour-is, stratification: hjerte, colour: red,",
            "no stratification logic",
        ),
        (
            '"mindst {moderate_exacerbations_red} moderate',
            '"mindst {nope} moderate',
            "unknown parameter or is malformed",
        ),
        (
            "annual_control_window: {value: 12,",
            "annual_control_window: {value: 12.5,",
            "must be a whole number",
        ),
    ],
)
def test_rulepack_mistakes_are_named(tmp_path: Path, old: str, new: str, needle: str) -> None:
    text = DEFAULT_RULEPACK.read_text(encoding="utf-8")
    assert old in text, old
    path = tmp_path / "pack.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SourceError) as err:
        load_rulepack(path)
    assert str(err.value).startswith(f"{path}:") and needle in str(err.value), str(err.value)


def test_thresholds_keep_their_decimals(tmp_path: Path) -> None:
    text = DEFAULT_RULEPACK.read_text(encoding="utf-8").replace(
        "mrc_yellow: {value: 3,", "mrc_yellow: {value: 2.5,"
    )
    path = tmp_path / "pack.yaml"
    path.write_text(text, encoding="utf-8")
    pack = load_rulepack(path)
    assert pack.threshold("mrc_yellow") == 2.5
    result = evaluate(pack, load_population(HAND), AS_OF)
    assert "0909499908" not in result.member_cprs("kol-stratificering-gul")  # MRC 2 stays green


def test_birth_date_must_match_the_cpr() -> None:
    bundle = _bundle_with("none")
    bundle["entry"][1]["resource"]["birthDate"] = "1950-05-06"
    _, problems = read_population(bundle)
    assert any("does not match the date in the CPR" in p.message for p in problems)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b["entry"][2]["resource"].update(subject="x"),
        lambda b: b["entry"][1].update(request="x"),
        lambda b: b["entry"][0]["resource"].update(meta={"tag": "x"}),
        lambda b: b["entry"][1]["resource"].update(name=5, generalPractitioner=5),
        lambda b: b["entry"][2]["resource"].update(code={"coding": 5}),
        lambda b: b["entry"][3]["resource"].update(valueQuantity=[1]),
        lambda b: b["entry"].append(dict(b["entry"][1], fullUrl="urn:uuid:dup")),
    ],
)
def test_odd_shapes_are_listed_problems_not_tracebacks(mutate) -> None:  # type: ignore[no-untyped-def]
    bundle = _bundle_with("none")
    mutate(bundle)
    _, problems = read_population(bundle)
    assert problems


def test_generate_writes_csv_beside_by_default(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    done = kcert(
        "population",
        "generate",
        "--seed",
        "1",
        "--size",
        "60",
        "--as-of",
        "2027-03-01",
        "--out",
        str(out),
    )
    assert done.returncode == 0 and (tmp_path / "p.csv").is_file()


@pytest.mark.parametrize("bad", ["0001-01-01", "20270301", "2027-W09-1"])
def test_oracle_refuses_odd_dates(bad: str) -> None:
    done = kcert("oracle", "members", "--population", str(HAND), "--as-of", bad, "--profile", "x")
    assert done.returncode == 2 and "Traceback" not in done.stderr
