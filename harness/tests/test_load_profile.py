"""Load profiles: the fixtures load quietly; every rule fires with file:line and the field."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from pathlib import Path

import pytest

from harness.load.model import OPERATIONS, Source
from harness.load.profile import MAX_PROFILE_BYTES, ProfileError, load_profile
from harness.suitefiles import fixtures_dir

FIXTURES = fixtures_dir() / "load"
NATIONAL = FIXTURES / "flp-national.yaml"
DEMO = FIXTURES / "flp-demo.yaml"
TEXT = NATIONAL.read_text(encoding="utf-8")


def line_of(text: str, needle: str) -> int:
    """The 1-based line where `needle` first occurs in `text`."""
    index = text.index(needle)
    return text.count("\n", 0, index) + 1


def broken(tmp_path: Path, old: str, new: str, *, count: int = 1) -> tuple[Path, str]:
    assert old in TEXT, old
    text = TEXT.replace(old, new, count)
    path = tmp_path / "profile.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text


def refused(path: Path) -> str:
    with pytest.raises(ProfileError) as caught:
        load_profile(path)
    return str(caught.value)


def assert_at(message: str, path: Path, line: int, field: str, reason: str) -> None:
    assert message.startswith(f"{path}:{line}: {field}: "), message
    assert re.search(reason, message), message


@pytest.mark.parametrize("fixture", sorted(FIXTURES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_profile_fixture_loads(fixture: Path) -> None:
    profile = load_profile(fixture)
    assert profile.operations == OPERATIONS
    assert set(profile.slos) == set(OPERATIONS)
    assert profile.sha256 == hashlib.sha256(fixture.read_bytes()).hexdigest()
    assert profile.path == fixture


def test_the_national_profile_names_its_published_figures_and_assumptions() -> None:
    profile = load_profile(NATIONAL)
    assert profile.id == "flp-national" and profile.version == "1.0"
    assert profile.title_da and profile.title_en
    published = {n for n, f in profile.figures.items() if f.source is Source.PUBLISHED}
    assert published == {
        "plans_created_year",
        "plans_created_peak_month",
        "clinics",
        "clinics_daily_use_share",
        "history_years",
    }
    assert profile.figures["plans_created_year"].value == 240_000
    assert profile.figures["plans_created_peak_month"].value == 30_000
    assert profile.figures["clinics"].value == 1_700
    assert profile.figures["growth_new_packages"].source is Source.ASSUMPTION
    assert all(f.note for f in profile.figures.values())
    assert profile.figures["clinics"].line == line_of(TEXT, "  clinics:")
    assert profile.slos["cockpit-list"].p95_ms == 100
    assert profile.slos["plan-create"].line == line_of(TEXT, "  plan-create: {")
    assert profile.think_time_s == (1.0, 3.0)
    assert profile.bounds.max_users == 500
    assert profile.stress_factor == 3


def test_the_demo_profile_scales_the_national_one() -> None:
    demo, national = load_profile(DEMO), load_profile(NATIONAL)
    assert demo.figures["scale"].value == 12
    assert {n: f.value for n, f in demo.figures.items() if n != "scale"} == {
        n: f.value for n, f in national.figures.items() if n != "scale"
    }
    assert {op: replace(s, line=0) for op, s in demo.slos.items()} == {
        op: replace(s, line=0) for op, s in national.slos.items()
    }


def test_a_profile_without_scale_uses_one(tmp_path: Path) -> None:
    start = TEXT.index("  scale:")
    end = TEXT.index("\n\n", start)
    path = tmp_path / "profile.yaml"
    path.write_text(TEXT[:start] + TEXT[end + 1 :], encoding="utf-8")
    assert "scale" not in load_profile(path).figures


def test_yaml_syntax(tmp_path: Path) -> None:
    path, _text = broken(tmp_path, "stress_factor: 3", "stress_factor: [3")
    message = refused(path)
    assert message.startswith(f"{path}:") and "YAML syntax" in message


def test_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text("- a list\n", encoding="utf-8")
    assert refused(path).startswith(f"{path}:1: ") and "mapping" in refused(path)


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path, _text = broken(tmp_path, "stress_factor: 3", "stress_factor: 3\nstres_factor: 4")
    message = refused(path)
    assert message.startswith(f"{path}:"), message
    assert "unknown field" in message and "stres_factor" in message


def test_missing_field(tmp_path: Path) -> None:
    path, _text = broken(tmp_path, "stress_factor: 3\n", "")
    assert "missing required field" in refused(path) and "stress_factor" in refused(path)


def test_wrong_format_version(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "kcert-load-profile: 1", "kcert-load-profile: 2")
    assert_at(refused(path), path, line_of(text, "kcert-load-profile"), "kcert-load-profile", "1")


def test_version_must_be_text(tmp_path: Path) -> None:
    path, text = broken(tmp_path, 'version: "1.0"', "version: 1.0")
    assert_at(refused(path), path, line_of(text, "version:"), "version", "string")


def test_unknown_operation(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "  - plan-share\n", "  - plan-delete\n")
    assert_at(
        refused(path), path, line_of(text, "- plan-delete"), "operations[5]", "unknown operation"
    )


def test_operation_twice(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "  - plan-share\n", "  - plan-share\n  - plan-create\n")
    assert_at(refused(path), path, line_of(text, "  - plan-share") + 1, "operations[6]", "twice")


def test_unknown_figure(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "  clinics:\n", "  klinics:\n")
    assert_at(refused(path), path, line_of(text, "  klinics:"), "figures.klinics", "unknown figure")


def test_unknown_field_in_a_figure(tmp_path: Path) -> None:
    old = "    note: about 1,700"
    path, text = broken(tmp_path, old, "    sauce: x\n" + old)
    message = refused(path)
    assert message.startswith(f"{path}:{line_of(text, '  clinics:')}: figures.clinics: ")
    assert "unknown field" in message and "sauce" in message


def test_figure_without_a_note(tmp_path: Path) -> None:
    start = TEXT.index("    note: about 1,700")
    old = TEXT[start : TEXT.index("\n", start) + 1]
    path, text = broken(tmp_path, old, "")
    message = refused(path)
    assert message.startswith(f"{path}:{line_of(text, '  clinics:')}: figures.clinics: ")
    assert "missing required field" in message and "note" in message


def test_figure_source_is_published_or_assumption(tmp_path: Path) -> None:
    old = "    unit: clinics\n    source: published"
    path, text = broken(tmp_path, old, "    unit: clinics\n    source: rumour")
    assert_at(
        refused(path), path, line_of(text, "source: rumour"), "figures.clinics.source", "rumour"
    )


def test_figure_in_the_wrong_unit(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "    unit: clinics\n", "    unit: practices\n")
    assert_at(
        refused(path), path, line_of(text, "unit: practices"), "figures.clinics.unit", "'clinics'"
    )


@pytest.mark.parametrize(
    ("figure", "old", "new", "reason"),
    [
        ("clinics_daily_use_share", "value: 0.9", "value: 90", "share"),
        ("clinics", "value: 1700", "value: 0", "more than 0"),
        ("clinics", "value: 1700", "value: .nan", "finite"),
        ("first_working_hour", "value: 8\n    unit: hour", "value: 25\n    unit: hour", "hour"),
    ],
)
def test_figure_value_out_of_range(
    tmp_path: Path, figure: str, old: str, new: str, reason: str
) -> None:
    path, text = broken(tmp_path, old, new)
    assert_at(
        refused(path), path, line_of(text, new.split("\n")[0]), f"figures.{figure}.value", reason
    )


def test_a_figure_an_operation_needs_is_missing(tmp_path: Path) -> None:
    start = TEXT.index("  cockpit_queries_per_clinic_per_day:")
    end = TEXT.index("  reads_minlaege_per_plan_per_month:")
    path = tmp_path / "profile.yaml"
    path.write_text(TEXT[:start] + TEXT[end:], encoding="utf-8")
    assert_at(
        refused(path),
        path,
        line_of(TEXT, "figures:"),
        "figures",
        "missing figure 'cockpit_queries_per_clinic_per_day' .*cockpit-list",
    )


def test_an_slo_for_an_unknown_operation(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "  plan-share: {p50", "  plan-delete: {p50")
    assert_at(refused(path), path, line_of(text, "plan-delete: {"), "slos.plan-delete", "unknown")


def test_an_slo_for_an_operation_not_loaded(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "  - plan-share\n", "")
    assert_at(
        refused(path), path, line_of(text, "  plan-share: {"), "slos.plan-share", "does not load"
    )


def test_an_unknown_slo_field(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "  plan-share: {p50_ms: 80", "  plan-share: {p90_ms: 80")
    message = refused(path)
    assert message.startswith(f"{path}:{line_of(text, 'plan-share: {')}: slos.plan-share: ")
    assert "unknown field" in message and "p90_ms" in message


def test_slo_percentiles_in_order(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "  plan-share: {p50_ms: 80", "  plan-share: {p50_ms: 800")
    assert_at(
        refused(path), path, line_of(text, "plan-share: {"), "slos.plan-share.p95_ms", "below p50"
    )


def test_slo_error_rate_is_a_fraction(tmp_path: Path) -> None:
    old = "  plan-share: {p50_ms: 80, p95_ms: 300, p99_ms: 600, max_error_rate: 0.01"
    path, text = broken(tmp_path, old, old.replace("0.01", "5"))
    assert_at(
        refused(path), path, line_of(text, "plan-share: {"), "slos.plan-share.max_error_rate", "5"
    )


def test_think_time_in_order(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "{min: 1, max: 3}", "{min: 3, max: 1}")
    assert_at(refused(path), path, line_of(text, "think_time_s:"), "think_time_s.max", "below min")


def test_bounds_must_be_whole_users(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "max_users: 500", "max_users: 0")
    assert_at(refused(path), path, line_of(text, "max_users:"), "bounds.max_users", "0")


def test_the_stress_shape_within_the_rate_bound(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "max_rate_per_s: 200", "max_rate_per_s: 10")
    assert_at(
        refused(path),
        path,
        line_of(text, "max_rate_per_s:"),
        "bounds.max_rate_per_s",
        r"below the stress shape's 22\.4",
    )


def test_stress_factor_bounded(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "stress_factor: 3", "stress_factor: 0.5")
    assert_at(refused(path), path, line_of(text, "stress_factor:"), "stress_factor", "0.5")


def test_duplicate_keys(tmp_path: Path) -> None:
    path, text = broken(tmp_path, "stress_factor: 3", "stress_factor: 3\nstress_factor: 4")
    assert_at(refused(path), path, line_of(text, "stress_factor: 4"), "stress_factor", "duplicate")


def test_a_file_too_large_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "profile.yaml"
    path.write_text(TEXT + "#" * MAX_PROFILE_BYTES, encoding="utf-8")
    assert refused(path).startswith(f"{path}:1: ") and "limit" in refused(path)


def test_a_directory_or_missing_file_is_refused(tmp_path: Path) -> None:
    assert "not a regular file" in refused(tmp_path)
    assert refused(tmp_path / "absent.yaml").startswith(f"{tmp_path / 'absent.yaml'}:1: ")


def test_a_profile_error_is_a_value_error() -> None:
    assert issubclass(ProfileError, ValueError)
