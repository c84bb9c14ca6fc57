"""What a standard is to kcert: the description each standard's folder registers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from harness.model.i18n import Text
from harness.model.kinds import MessageKind
from harness.model.outcome import Severity
from harness.validators.fhirprofile.medcom import ContextNative


@dataclass(frozen=True)
class DefectEntry:
    """The judging side's catalogue entry of one reference-LPS defect: data only.

    The reference LPS implements the defect on its own (`harness/reflps/defects.py` names the
    same defect); `harness/tests/test_standards.py` holds the two sides to each other. `case` is
    the test case (of one of the standard's protocols) that must catch it with `severity`; a
    defect only a kcert test can reach names that test in `test` instead (module::function
    under harness/tests) and leaves `case` empty.
    """

    name: str
    da: str
    en: str
    case: str = ""
    severity: Severity = Severity.F2
    test: str = ""
    # caught only by MedCom's profiles (the FHIR packs installed), not by kcert's own rules
    profile_only: bool = False

    @property
    def text(self) -> Text:
        return Text(self.da, self.en)


@dataclass(frozen=True)
class Standard:
    """One standard kcert tests: everything of it that lives outside its folder, named.

    `name` is the protocols' `standard:` (and the SUT configuration's `standards:` key); a
    standard without a protocol of its own (the acknowledgement, judged inside others) still
    has a name its rules and defects are filed under. `protocols` are file names under
    `testcases/`, `templates` paths under `fixtures/`; `rules` the rule ids its checks yield,
    with their Danish/English titles (generic ids such as HTTP-STATUS stay in
    `harness/checks/rules.py`); `natives` the Python versions of its profile invariants,
    keyed by the exact FHIRPath text (see `harness/validators/fhirprofile/medcom.py`).
    """

    name: str
    title: Text
    package: str  # the standard's folder as a module name (`__name__` of its __init__)
    kinds: tuple[MessageKind, ...] = ()
    rules: Mapping[str, Text] = field(default_factory=dict)
    protocols: tuple[str, ...] = ()
    templates: tuple[str, ...] = ()
    defects: tuple[DefectEntry, ...] = ()
    natives: Mapping[str, ContextNative] = field(default_factory=dict)

    @property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds)
