"""harness.standards: one home per standard, registered once; what a standard names exists, and
its defects' catalogue entries agree with the reference LPS's own catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.checks import CHECKS, rules
from harness.fixtures import REPO_ROOT
from harness.model import kinds
from harness.model.i18n import Text
from harness.model.kinds import MessageKind
from harness.model.protocol import Protocol
from harness.reflps.defects import CATALOGUE
from harness.standards import STANDARDS, DefectEntry, Standard, StandardError, Standards
from harness.validators.fhirprofile import medcom

TESTS = Path(__file__).parent


def _standard(name: str = "Example", **fields: object) -> Standard:
    return Standard(name=name, title=Text("Eksempel", "Example"), package="tests.example", **fields)  # type: ignore[arg-type]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Standards:
    """A registry of its own over copies of the global tables, so a test's registrations
    leave the real ones as they were."""
    monkeypatch.setattr(rules, "RULES", dict(rules.RULES))
    monkeypatch.setattr(rules, "_OWNERS", dict(rules._OWNERS))
    monkeypatch.setattr(kinds, "KINDS", dict(kinds.KINDS))
    monkeypatch.setattr(kinds, "KIND_NAMES", list(kinds.KIND_NAMES))
    monkeypatch.setattr(medcom, "CONTEXT_NATIVE", dict(medcom.CONTEXT_NATIVE))
    monkeypatch.setattr(medcom, "_OWNERS", dict(medcom._OWNERS))
    return Standards()


def test_the_six_standards_are_registered() -> None:
    assert set(STANDARDS.names()) >= {
        "CareCommunication",
        "Acknowledgement",
        "REF01",
        "DK-CPD",
        "DK-QRD",
        "Cockpit",
    }
    assert STANDARDS.get("REF01").kind_names == ("referral",)
    assert kinds.kind_of("carecommunication").standard == "CareCommunication"
    assert kinds.of_event("care-communication-message") is kinds.kind_of("carecommunication")
    assert kinds.of_event("hospital-notification-message") in (None, *kinds.KINDS.values())
    assert kinds.of_event("") is None  # the OIOXML referral has no FHIR event
    assert rules.owner_of("SEND-PROFILE") == "CareCommunication"
    assert rules.owner_of("HTTP-STATUS") == ""
    assert rules.owner_of("NO-SUCH-RULE") is None


def test_a_standard_registered_twice_is_refused_naming_both() -> None:
    again = STANDARDS.get("CareCommunication")
    with pytest.raises(StandardError) as caught:
        STANDARDS.register(Standard(**{**again.__dict__, "package": "tests.copy"}))
    message = str(caught.value)
    assert "'CareCommunication' is registered twice" in message
    assert "harness.standards.carecommunication" in message and "tests.copy" in message


def test_a_rule_id_claimed_by_two_standards_is_refused_naming_both(fresh: Standards) -> None:
    clash = _standard(rules={"NEW-RULE": Text("ny", "new"), "SEND-PROFILE": Text("x", "y")})
    with pytest.raises(
        StandardError,
        match="SEND-PROFILE is claimed by both standard 'CareCommunication' and standard 'Example'",
    ):
        fresh.register(clash)
    # refused whole: nothing of it was filed
    assert "Example" not in fresh and rules.owner_of("NEW-RULE") is None
    generic = _standard(rules={"HTTP-STATUS": Text("x", "y")})
    with pytest.raises(StandardError, match="kcert's generic catalogue and standard 'Example'"):
        fresh.register(generic)


def test_a_kind_claimed_twice_is_refused_naming_both(fresh: Standards) -> None:
    clash = _standard(kinds=(MessageKind("referral", "/elsewhere", "oioxml"),))
    with pytest.raises(
        StandardError, match="'referral' is claimed by both standard 'REF01' and standard 'Example'"
    ):
        fresh.register(clash)
    assert kinds.kind_of("referral").path == "/oioxml"
    twice = _standard(kinds=(MessageKind("ex", "/a", "fhir"), MessageKind("ex", "/b", "fhir")))
    with pytest.raises(StandardError, match="'ex' is claimed twice by 'Example'"):
        fresh.register(twice)
    other = _standard(kinds=(MessageKind("ex", "/a", "fhir", standard="Other"),))
    with pytest.raises(StandardError, match="names standard 'Other' but is registered by"):
        fresh.register(other)
    assert "ex" not in kinds.KINDS and "Example" not in fresh
    with pytest.raises(kinds.KindError, match="unknown message kind 'nope'; known: "):
        kinds.kind_of("nope")


def test_a_native_and_a_defect_claimed_twice_are_refused(fresh: Standards) -> None:
    expression = next(iter(STANDARDS.get("CareCommunication").natives))
    with pytest.raises(StandardError, match="claimed by both standard 'CareCommunication'"):
        fresh.register(_standard(natives={expression: lambda item, ctx: True}))
    one = DefectEntry("some-defect", "da", "en", "X-01")
    with pytest.raises(StandardError, match="'some-defect' is claimed by both"):
        fresh.register(_standard(defects=(one, one)))


def test_a_new_standard_files_what_it_owns(fresh: Standards) -> None:
    def native(item: object, ctx: object) -> bool:
        return True

    fresh.register(
        _standard(
            rules={"EX-ONE": Text("en", "one")},
            kinds=(MessageKind("example", "/example", "fhir"),),
            natives={"example.exists()": native},
            defects=(DefectEntry("example-defect", "da", "en", "EX-01"),),
        )
    )
    assert rules.owner_of("EX-ONE") == "Example" and rules.rule_title("EX-ONE", "en") == "one"
    assert kinds.kind_of("example").standard == "Example"
    assert medcom.context_native_for("example.exists()") is not None
    assert fresh.defects()["example-defect"][0].name == "Example"
    with pytest.raises(StandardError, match="unknown standard 'Nope'; known: Example"):
        fresh.get("Nope")


def test_a_rule_title_needs_both_languages(fresh: Standards) -> None:
    with pytest.raises(rules.RuleError, match="EX-HALF of standard 'Example' needs a Danish"):
        fresh.register(_standard(rules={"EX-HALF": Text("kun dansk", "")}))


def test_every_reflps_defect_is_in_exactly_one_standards_catalogue() -> None:
    filed: dict[str, list[str]] = {}
    for standard in STANDARDS:
        for entry in standard.defects:
            filed.setdefault(entry.name, []).append(standard.name)
    assert {n: s for n, s in filed.items() if len(s) > 1} == {}
    assert set(filed) - set(CATALOGUE) == set(), "catalogue entries the reference LPS lacks"
    assert set(CATALOGUE) - set(filed) == set(), "reference-LPS defects no standard files"
    for name, (_, entry) in STANDARDS.defects().items():
        # the same defect on both sides, described the same way
        assert (entry.da, entry.en) == (CATALOGUE[name].da, CATALOGUE[name].en), name


def test_every_defect_entry_names_a_catching_case_or_test(protocols: list[Protocol]) -> None:
    cases = {Path(p.source.file).name: {c.id for c in p.cases} for p in protocols}
    everywhere = set().union(*cases.values())
    for standard in STANDARDS:
        own = set().union(*(cases.get(f, set()) for f in standard.protocols))
        for entry in standard.defects:
            assert bool(entry.case) != bool(entry.test), entry.name  # one or the other
            if entry.case:
                # its own protocols' case; a standard without a protocol (the acknowledgement)
                # is caught by a case of the protocols that carry it
                assert entry.case in (own if standard.protocols else everywhere), entry
                assert entry.severity.blocks_approval, entry.name
            else:
                module, _, function = entry.test.partition("::")
                path = REPO_ROOT / module
                assert path.is_file() and f"def {function}(" in path.read_text(), entry.test


def test_what_a_standard_names_exists(protocols: list[Protocol]) -> None:
    standard_of = {Path(p.source.file).name: p.needs.standard for p in protocols}
    claimed: dict[str, str] = {}
    for standard in STANDARDS:
        for file in standard.protocols:
            assert file in standard_of, f"{standard.name}: no protocol testcases/{file}"
            assert standard_of[file] == standard.name, (file, standard_of[file])
            assert file not in claimed, f"{file} named by {claimed[file]} and {standard.name}"
            claimed[file] = standard.name
        for template in standard.templates:
            assert (REPO_ROOT / "fixtures" / template).is_file(), template
        assert standard.title.da and standard.title.en
        assert all(t.da and t.en for t in standard.rules.values())
    # every protocol belongs to a standard
    assert set(standard_of) == set(claimed)
    assert STANDARDS.of_protocol("referral-send.yaml") is STANDARDS.get("REF01")


def test_a_standards_checks_are_its_folders() -> None:
    names = STANDARDS.checks_of(STANDARDS.get("CareCommunication"))
    assert "sent-carecommunication" in names
    assert all(n in CHECKS for n in names)


def test_a_standards_code_yields_only_its_own_or_generic_rule_ids() -> None:
    """A rule id written in a standard's folder is its own or a generic one, never another
    standard's (that one would belong in a shared module under harness/checks)."""
    import re

    root = REPO_ROOT / "harness" / "standards"
    for standard in STANDARDS:
        folder = root / standard.package.rsplit(".", 1)[-1]
        for path in sorted(folder.glob("*.py")):
            for rule_id in set(re.findall(r'"([A-Z][A-Z0-9]*-[A-Z0-9-]+)"', path.read_text())):
                owner = rules.owner_of(rule_id)
                assert owner in (None, "", standard.name), (path.name, rule_id, owner)


def test_every_standard_has_its_checks_and_rules() -> None:
    for standard in STANDARDS:
        assert STANDARDS.checks_of(standard), standard.name
        assert standard.rules, standard.name
        for rule_id in standard.rules:
            assert rules.owner_of(rule_id) == standard.name


def test_a_standards_natives_answer_its_invariants() -> None:
    natives = STANDARDS.get("CareCommunication").natives
    assert len(natives) >= 10  # cc-1 … cc-15
    for expression, native in natives.items():
        assert medcom.native_owner(expression) == "CareCommunication"
        assert medcom.CONTEXT_NATIVE[expression] is native
        assert medcom.context_native_for(expression) is not None
    # the shared MedCom/DK-core natives stay the validator's own
    assert medcom.native_owner("entry.resource.ofType(Provenance).exists()") == ""
