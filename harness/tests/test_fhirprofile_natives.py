"""The Python-native MedCom/DK-core invariants (fhirprofile/medcom.py, and each standard's own:
harness/standards/carecommunication/natives.py) answer exactly what fhirpathpy answers for the
same expression: on every node they are applied to while validating the corpus messages, the
mutations of test_fhirprofile.py, mutations aimed at each native, and seeded random damage to
the messages. Skipped when ../shared/corpus is absent."""

from __future__ import annotations

import copy
import json
import random
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fhir.resource import read_resource
from harness.tests.test_fhirprofile import EXAMPLES, MUTATIONS, PACKAGES, _first
from harness.validators.fhirprofile import ProfileIndex, ProfileValidator, medcom, natives
from harness.validators.fhirprofile.invariants import Invariant, NativeContext

SEND_A = "SendExamples/Bundle-S-A-new-1932711d-49d0-4ad7-b1ee-61de711892d2.json"
FUZZED = 160  # randomly damaged messages; each native meets some of them


class Comparison:
    """Per native expression: nodes answered natively, the answers seen, and disagreements."""

    def __init__(self) -> None:
        self.answered: Counter[str] = Counter()
        self.deferred: Counter[str] = Counter()
        self.seen: dict[str, set[bool]] = {}
        self.disagreements: list[str] = []

    def check(self, invariant: Invariant, item: Any, type_path: str, env: dict[str, Any]) -> None:
        if invariant.context_native is not None:
            answer = invariant.context_native(item, NativeContext(env))
        else:
            assert invariant.native is not None
            answer = invariant.native(item)
        if answer is None:
            self.deferred[invariant.key] += 1
            return
        reference = invariant.evaluate_fhirpath(item, type_path, env)
        self.answered[invariant.key] += 1
        self.seen.setdefault(invariant.key, set()).add(answer)
        if reference != answer:
            shown = json.dumps(item, ensure_ascii=False)[:300]
            self.disagreements.append(
                f"{invariant.key}: native {answer}, fhirpathpy {reference!r} on {shown}"
            )


@pytest.fixture(scope="module")
def validator() -> ProfileValidator:
    if not PACKAGES.is_dir():
        pytest.skip("../shared/corpus is absent: official artefacts not available")
    index = ProfileIndex.from_packages(sorted(PACKAGES.glob("*.tgz")))
    return ProfileValidator(index, check_structure=False)


def _new_native(invariant: Invariant) -> bool:
    """The natives added for MedCom: the contextual ones (medcom.py's and the standards'), and
    matches() with the regex of the text."""
    matches = natives.MATCHES_EXPRESSION.match(invariant.expression) is not None
    return invariant.context_native is not None or (matches and invariant.native is not None)


@pytest.fixture()
def comparison(monkeypatch: pytest.MonkeyPatch) -> Comparison:
    """Every evaluation of an invariant that has a contextual native is also compared."""
    found = Comparison()
    original = Invariant.evaluate

    def evaluate(self: Invariant, item: Any, type_path: str, env: dict[str, Any]) -> bool | str:
        if _new_native(self):
            found.check(self, item, type_path, env)
        return original(self, item, type_path, env)

    monkeypatch.setattr(Invariant, "evaluate", evaluate)
    return found


def _messages() -> list[dict[str, Any]]:
    found = []
    for path in sorted(EXAMPLES.glob("*/*.*")):
        _, resource = read_resource(path.read_bytes())
        found.append(resource)
    return found


def _by_type(bundle: dict[str, Any], rtype: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == rtype]


def _set_last_gln_digit(bundle: dict[str, Any]) -> None:
    for organization in _by_type(bundle, "Organization"):
        for identifier in organization.get("identifier", []):
            value = identifier.get("value", "")
            if len(value) == 13 and value.isdigit():
                identifier["value"] = value[:12] + str((int(value[12]) + 1) % 10)
                return


def _encounter_to_patient(bundle: dict[str, Any]) -> None:
    patient = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    _first(bundle, "Communication")["encounter"] = {"reference": patient}


def _sender_is_receiver(bundle: dict[str, Any]) -> None:
    header = _first(bundle, "MessageHeader")
    header["sender"] = copy.deepcopy(header["destination"][0]["receiver"])


def _receiver_is_sender(bundle: dict[str, Any]) -> None:
    header = _first(bundle, "MessageHeader")
    header["destination"][0]["receiver"] = copy.deepcopy(header["sender"])


def _marital_p_and_a(bundle: dict[str, Any]) -> None:
    system = medcom.MARITAL
    _first(bundle, "Patient")["maritalStatus"] = {
        "coding": [{"system": system, "code": "P"}, {"system": system, "code": "A"}]
    }


def _organization_bare(bundle: dict[str, Any]) -> None:
    organization = _first(bundle, "Organization")
    organization.pop("identifier", None)
    organization.pop("name", None)


def _organization_foreign_ids(bundle: dict[str, Any]) -> None:
    for identifier in _first(bundle, "Organization").get("identifier", []):
        identifier["system"] = "urn:example:elsewhere"


def _recipient_is_an_organization(bundle: dict[str, Any]) -> None:
    # an Organization has neither managingOrganization nor organization to compare
    communication = _first(bundle, "Communication")
    organization = next(
        e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Organization"
    )
    communication["recipient"] = [{"reference": organization}]


def _uuids_broken(bundle: dict[str, Any]) -> None:
    # every matches() rule on an identifier or a url sees a string it does not match
    for container, key in list(_positions(bundle)):
        value = container[key]
        if key == "value" and isinstance(value, str) and value.isdigit():
            container[key] = "unknown"  # a phone number, GLN or SOR code without digits
        elif key == "value" and isinstance(value, str) and value[:1].isalnum():
            container[key] = "x" + value
        elif key == "definition" and isinstance(value, str):
            container[key] = value + "-draft"


# Aimed at the natives: each makes one of them answer false (or take a rarer branch).
AIMED: dict[str, Callable[[dict[str, Any]], None]] = {
    "gln check digit wrong": _set_last_gln_digit,
    "encounter resolves to a Patient": _encounter_to_patient,
    "sender is the receiver": _sender_is_receiver,
    "receiver is the sender": _receiver_is_sender,
    "marital status P and A": _marital_p_and_a,
    "organisation without identifier or name": _organization_bare,
    "organisation without a DK identifier": _organization_foreign_ids,
    "recipient is an Organization": _recipient_is_an_organization,
    "uuid identifiers that are not": _uuids_broken,
}


def _positions(value: Any) -> Iterator[tuple[Any, Any]]:
    """(container, key or index) of every value inside a JSON value."""
    if isinstance(value, dict):
        for key in list(value):
            yield value, key
            yield from _positions(value[key])
    elif isinstance(value, list):
        for number, item in enumerate(value):
            yield value, number
            yield from _positions(item)


def _damage(bundle: dict[str, Any], rng: random.Random) -> None:
    """One random change of the kinds natives must either read as fhirpathpy does or defer on."""
    positions = list(_positions(bundle))
    strings = [c[k] for c, k in positions if isinstance(c[k], str)]
    container, key = rng.choice(positions)
    kind = rng.randrange(9)
    if kind == 0:
        del container[key]
    elif kind == 1:
        container[key] = rng.choice(["", {}, None, [], 0, True, "x"])
    elif kind == 2:
        container[key] = rng.choice(strings)  # another code, reference, url, ...
    elif kind == 3:
        container[key] = [copy.deepcopy(container[key])] * rng.randint(0, 2)
    elif kind == 4 and isinstance(container, list):
        container.append(copy.deepcopy(container[key]))
    elif kind == 5 and isinstance(container, dict) and isinstance(key, str):
        container["_" + key] = {"extension": [{"url": "urn:x", "valueString": "x"}]}
    elif kind == 6 and isinstance(container[key], dict):
        # a choice element of another type, or a second one
        container[key]["valueString" if rng.random() < 0.5 else "valueCoding"] = "x"
    elif kind == 7 and isinstance(container[key], str):
        container[key] = container[key][: rng.randrange(len(container[key]) + 1)]
    elif isinstance(container, list):
        rng.shuffle(container)


def _validate_all(validator: ProfileValidator, bundles: list[dict[str, Any]]) -> None:
    for bundle in bundles:
        validator.validate(bundle, "equivalence")


def test_natives_agree_on_the_corpus_messages(
    validator: ProfileValidator, comparison: Comparison
) -> None:
    _validate_all(validator, _messages())
    assert not comparison.disagreements, "\n".join(comparison.disagreements[:20])
    keys = {f.__name__ for f in medcom.CONTEXT_NATIVE.values()}
    assert len(keys) == len(medcom.CONTEXT_NATIVE)  # one function per expression
    # every native met the corpus and answered there (none only deferred)
    assert len(comparison.answered) >= len(medcom.CONTEXT_NATIVE) - 1, comparison.answered


def test_natives_agree_on_the_mutations(
    validator: ProfileValidator, comparison: Comparison
) -> None:
    message: dict[str, Any] = json.loads((EXAMPLES / SEND_A).read_bytes())
    bundles = []
    for mutate, _ in MUTATIONS.values():
        bundle = copy.deepcopy(message)
        mutate(bundle)
        bundles.append(bundle)
    for aimed in AIMED.values():
        bundle = copy.deepcopy(message)
        aimed(bundle)
        bundles.append(bundle)
    _validate_all(validator, bundles)
    assert not comparison.disagreements, "\n".join(comparison.disagreements[:20])
    # every native said false somewhere: the comparison covered both answers
    never_false = {k for k, seen in comparison.seen.items() if False not in seen}
    assert not never_false, never_false


def test_natives_agree_on_damaged_messages(
    validator: ProfileValidator, comparison: Comparison
) -> None:
    messages = _messages()
    rng = random.Random(20240905)
    crashed = 0
    for _ in range(FUZZED):
        bundle = copy.deepcopy(rng.choice(messages))
        for _ in range(rng.randint(1, 3)):
            _damage(bundle, rng)
        try:
            validator.validate(bundle, "damaged")
        except Exception as exc:
            # the validator's own robustness on garbage is not what is tested here (what was
            # compared before the crash still counts); a crash inside a native is
            places = {Path(f.filename) for f in traceback.extract_tb(exc.__traceback__)}
            natives = {p for p in places if p.name in ("medcom.py", "walk.py")}
            # a standard's own natives (harness/standards/<name>/natives.py)
            natives |= {p for p in places if p.name == "natives.py" and "standards" in p.parts}
            assert not natives, repr(exc)
            crashed += 1
    assert not comparison.disagreements, "\n".join(comparison.disagreements[:20])
    assert sum(comparison.answered.values()) > FUZZED
    assert crashed < FUZZED // 10


def test_a_changed_expression_is_judged_by_fhirpath() -> None:
    # keyed by exact text: one character more and there is no native
    for expression in medcom.CONTEXT_NATIVE:
        assert medcom.context_native_for(expression) is not None
        assert medcom.context_native_for(expression + " ") is None
