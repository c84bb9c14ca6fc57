"""The official FHIR validator test cases (FHIR/fhir-test-cases, `validator/`) as kcert's own
conformance suite: each case's instance validated as the reference validator did it, and the
verdicts and error-level issues compared with the Java validator's recorded outcome.

Which cases are in scope is decided by named rules (`scope_reason`), never by whether kcert
agrees: what needs a terminology server, Questionnaire logic, a registry package, or a format
that is not a FHIR R4 resource is out, with its reason.

Run: .venv/bin/python -m harness.validators.fhirprofile.conformance [SUITE_FOLDER] [--cases]
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.model.finding import Finding
from harness.safeparse import PayloadError
from harness.validators.api import ValidatorContext
from harness.validators.fhirprofile.packages import (
    CONFORMANCE_TYPES,
    Entry,
    Package,
    PackageError,
    read_package,
)

SUITE_PACKAGE = "kcert.conformance.case"
EXTENSIONS_PACKAGE = "hl7.fhir.uv.extensions.r4"
# Areas of the reference validator kcert does not implement, and why.
OUT_OF_SCOPE_MODULES = {
    "tx": "needs a terminology server",
    "tx-advanced": "needs a terminology server",
    "questionnaire": "Questionnaire / QuestionnaireResponse logic",
    "cdshooks": "CDS Hooks JSON, not a FHIR resource",
    "shc": "SMART Health Cards (JWS), not a FHIR resource",
    "cda": "CDA documents through the CDA logical model (kcert validates CDA with its XSD and "
    "schematron packs)",
    "logical": "instances of logical models",
    "matchetype": "matchetype templates, a test device of the reference validator",
    "dsig": "digital signatures",
    "xver": "cross-version extensions (hl7.fhir.uv.xver packages are not available)",
    "measure": "Measure and MeasureReport evaluation",
    "scoring": "quality scoring",
    "api": "CapabilityStatement API conformance",
}
# Case settings that change what the reference validator does in ways kcert does not model.
UNSUPPORTED_SETTINGS = {
    "security-checks": "the validator's security-checks mode",
    "for-publication": "IG-publication mode",
    "bundle-param": "bundle validation parameters",
    "ips": "the validator's IPS mode",
    "logical": "a logical model",
    "fetcher": "references fetched from a server during validation",
    "validateReference": "references fetched from a server during validation",
    "noHtmlInMarkdown": "the no-HTML-in-markdown setting",
    "matchetype": "matchetype comparison",
    "certificate": "certificates",
    "crumb-trail": "crumb-trail mode",
    "advisor": "an advisor file that changes severities",
    "language": "a validation language setting",
    "wrong-displays": "a display-checking setting",
    "r5-bundle-relative-reference-policy": "an R5 reference policy",
    "new-xver-mode": "cross-version mode",
    "package-map": "a package map",
}
_COMMENT = re.compile(r"/\*.*?\*/")
_OF_TYPE = re.compile(r"\.ofType\([A-Za-z]+\)|\[[a-z]+='[^']*'\]")
_ISSUE_SERVER = "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-server"


@dataclass(frozen=True)
class ExpectedIssue:
    severity: str
    path: str
    message: str
    terminology: bool  # the reference validator asked a terminology server for it
    line: int | None = None  # where in the instance, when the outcome says (diagnostics)

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")


@dataclass(frozen=True)
class Step:
    """One validation of a case: against the base spec (and declared profiles), or a profile."""

    name: str
    profile: str | None
    supporting: tuple[str, ...]
    expected: tuple[ExpectedIssue, ...] | None  # None: no outcome file in the suite
    error_count: int | None = None  # an inline outcome that gives only the count

    @property
    def expected_errors(self) -> list[ExpectedIssue]:
        return [i for i in self.expected or () if i.is_error]

    @property
    def judged_errors(self) -> list[ExpectedIssue]:
        """The error-level issues that do not depend on a terminology server."""
        return [i for i in self.expected_errors if not i.terminology]

    @property
    def valid(self) -> bool | None:
        if self.error_count is not None:
            return self.error_count == 0
        if self.expected is None:
            return None
        return not self.expected_errors


@dataclass(frozen=True)
class SuiteCase:
    name: str
    file: str
    module: str
    packages: tuple[str, ...]
    supporting: tuple[str, ...]
    steps: tuple[Step, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass
class StepResult:
    case: str
    step: str
    expected_valid: bool
    valid: bool
    expected_errors: int
    found_errors: int  # expected (non-terminology) error issues kcert also reported
    judged_errors: int
    findings: list[Finding] = field(default_factory=list)
    crash: str = ""

    @property
    def agrees(self) -> bool:
        return not self.crash and self.expected_valid == self.valid


def load_cases(folder: Path) -> list[SuiteCase]:
    """The R4 cases of the suite's manifest."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    cases = []
    for raw in manifest.get("test-cases", []):
        if str(raw.get("version", "")) not in ("4.0", "4.0.1"):
            continue
        # supporting5 holds definitions the reference validator loads for the case as well
        listed = [*raw.get("supporting", []), *raw.get("profiles", []), *raw.get("supporting5", [])]
        supporting = tuple(str(s) for s in listed)
        steps = [Step("base", None, (), _expected(folder, raw.get("java")), _count(raw))]
        profile = raw.get("profile")
        if isinstance(profile, dict) and profile.get("source"):
            steps.append(
                Step(
                    "profile",
                    str(profile["source"]),
                    tuple(str(s) for s in profile.get("supporting", [])),
                    _expected(folder, profile.get("java")),
                    _count(profile),
                )
            )
        cases.append(
            SuiteCase(
                name=str(raw["name"]),
                file=str(raw["file"]),
                module=str(raw.get("module", "")),
                packages=tuple(str(p) for p in raw.get("packages", [])),
                supporting=supporting,
                steps=tuple(steps),
                raw=raw,
            )
        )
    return cases


def _count(raw: dict[str, Any]) -> int | None:
    java = raw.get("java")
    if isinstance(java, dict) and "errorCount" in java:
        return int(java["errorCount"])
    return None


def _expected(folder: Path, java: Any) -> tuple[ExpectedIssue, ...] | None:
    if isinstance(java, dict):
        outcome = java.get("outcome")
        if not isinstance(outcome, dict):
            return None
    elif isinstance(java, str):
        path = folder / "outcomes" / java
        if not path.is_file():
            return None
        outcome = json.loads(path.read_text(encoding="utf-8"))
    else:
        return None
    issues = []
    for issue in outcome.get("issue", []):
        expressions = issue.get("expression") or [""]
        issues.append(
            ExpectedIssue(
                severity=str(issue.get("severity", "")),
                path=normalise_path(str(expressions[0])),
                message=str((issue.get("details") or {}).get("text", "")),
                terminology=any(e.get("url") == _ISSUE_SERVER for e in issue.get("extension", [])),
                line=_line(str(issue.get("diagnostics", ""))),
            )
        )
    return tuple(issues)


_POSITION = re.compile(r"^\[(\d+),\s*\d+\]$")


def _line(diagnostics: str) -> int | None:
    found = _POSITION.match(diagnostics.strip())
    return int(found.group(1)) if found else None


def normalise_path(path: str) -> str:
    """`Bundle.entry[0].resource/*Observation/1814*/.value.ofType(Quantity)` ->
    `Bundle.entry[0].resource.value`."""
    # `value.ofType(Quantity)` is the choice element kcert calls `value`; `extension[1]
    # [url='...']` the element kcert calls `extension[1]`
    return _OF_TYPE.sub("", _COMMENT.sub("", path)).replace("..", ".").strip()


def scope_reason(case: SuiteCase, folder: Path) -> str | None:
    """Why a case is out of kcert's scope, or None when kcert must agree with it."""
    if case.raw.get("use-test") is False:
        return "disabled in the upstream manifest (use-test: false)"
    if case.module in OUT_OF_SCOPE_MODULES:
        return f"module {case.module}: {OUT_OF_SCOPE_MODULES[case.module]}"
    for key, reason in UNSUPPORTED_SETTINGS.items():
        if key in case.raw or key in (case.raw.get("profile") or {}):
            return f"setting {key!r}: {reason}"
    for package in case.packages:
        if not package.endswith(".tgz") or not (folder / package).is_file():
            return f"needs package {package} from the FHIR registry (not available offline)"
    if case.file.endswith(".ndjson"):
        return "an NDJSON bulk file, not one resource (kcert validates resources one by one)"
    if not (folder / case.file).is_file():
        return f"the instance {case.file} is not in the subset"
    for name in (*case.supporting, *(s for step in case.steps for s in step.supporting)):
        if not (folder / name).is_file():
            return f"the supporting file {name} is not in the subset"
    for step in case.steps:
        if step.valid is None:
            return f"no expected outcome for the {step.name} step in the subset"
        if step.expected is not None and step.expected_errors and not step.judged_errors:
            return (
                f"the {step.name} step's errors all came from a terminology server (issue-server)"
            )
        source = step.profile
        if source and not source.startswith("http") and not (folder / source).is_file():
            return f"the profile {source} is not in the subset"
    return None


class SuiteRunner:
    """Runs cases against the FHIR base package (shared by every case) plus each case's own
    packages and supporting definitions."""

    def __init__(self, folder: Path, base_packages: Iterable[Path]) -> None:
        self.folder = folder
        self.base = [read_package(Path(p)) for p in base_packages]
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        self.extensions_version = str((manifest.get("versions") or {}).get("extensions", ""))
        self._packages: dict[str, Package] = {}

    def run(self, case: SuiteCase) -> list[StepResult]:
        from harness.validators.fhirprofile.index import ProfileIndex
        from harness.validators.fhirprofile.reading import read_instance
        from harness.validators.fhirprofile.snapshot import generate_snapshot
        from harness.validators.fhirprofile.validator import ProfileValidator

        results = []
        for step in case.steps:
            expected_valid = bool(step.valid)
            judged = step.judged_errors
            try:
                extra, profile_url = self._definitions(case, step)
                own = self._case_package(case, extra)
                index = ProfileIndex([*self.base, *self._case_deps(case), own], generate_snapshot)
                validator = ProfileValidator(
                    index, allow_examples=case.raw.get("examples") is not False
                )
                data = (self.folder / case.file).read_bytes()
                try:
                    instance = read_instance(data, case.file, index)
                except PayloadError as exc:
                    found = [_parse_finding(exc.reason, exc.line)]
                else:
                    found = list(instance.findings)
                    if instance.resource is not None:
                        found += validator.iter_findings(
                            instance.resource,
                            ValidatorContext(case.file, profile_url, own.key, lines=instance.lines),
                        )
            except Exception as exc:  # a crash is a result to count, not a reason to stop
                results.append(
                    StepResult(
                        case.name,
                        step.name,
                        expected_valid,
                        False,
                        len(step.expected_errors),
                        0,
                        len(judged),
                        crash=f"{type(exc).__name__}: {exc}",
                    )
                )
                continue
            blocking = [f for f in found if f.blocking]
            results.append(
                StepResult(
                    case.name,
                    step.name,
                    expected_valid,
                    not blocking,
                    len(step.expected_errors),
                    sum(1 for issue in judged if _matched(issue, blocking)),
                    len(judged),
                    found,
                )
            )
        return results

    def _definitions(self, case: SuiteCase, step: Step) -> tuple[list[dict[str, Any]], str | None]:
        """The conformance resources the step loads, and the profile it validates against."""
        names = list(case.supporting)
        if step.name == "profile":
            names += list(step.supporting)
        resources = [r for name in names for r in self._conformance(name)]
        profile_url = None
        if step.profile:
            if step.profile.startswith("http"):
                profile_url = step.profile
            else:
                loaded = self._conformance(step.profile)
                resources += loaded
                profile_url = str(loaded[0].get("url")) if loaded else None
        return resources, profile_url

    def _conformance(self, name: str) -> list[dict[str, Any]]:
        from harness.fhir.resource import read_resource

        _, resource = read_resource((self.folder / name).read_bytes())
        if resource.get("resourceType") == "Bundle":
            inner = [e.get("resource") for e in resource.get("entry", []) if isinstance(e, dict)]
            return [r for r in inner if isinstance(r, dict) and _is_conformance(r)]
        return [resource] if _is_conformance(resource) else []

    def _case_deps(self, case: SuiteCase) -> list[Package]:
        found = []
        for name in case.packages:
            if name not in self._packages:
                self._packages[name] = read_package(self.folder / name)
            found.append(self._packages[name])
        return found

    def _case_package(self, case: SuiteCase, resources: list[dict[str, Any]]) -> Package:
        deps = {p.name: p.version for p in self._case_deps(case)}
        deps.update({p.name: p.version for p in self.base})
        # the reference validator runs the suite with the extensions package loaded; kcert has
        # no copy, so what it would define is a named gap, not an unknown extension
        deps.setdefault(EXTENSIONS_PACKAGE, self.extensions_version)
        entries = tuple(
            Entry(
                f"{r.get('resourceType')}-{r.get('id', n)}.json",
                str(r.get("resourceType")),
                str(r.get("url", "")),
                str(r.get("version", "")),
                resource=r,
            )
            for n, r in enumerate(resources)
        )
        return Package(SUITE_PACKAGE, "0.0.0", "", deps, entries, case.name, ("4.0.1",))


def _is_conformance(resource: dict[str, Any]) -> bool:
    return resource.get("resourceType") in CONFORMANCE_TYPES and bool(resource.get("url"))


def _parse_finding(message: str, line: int | None = None) -> Finding:
    from harness.validators.fhirprofile import rules

    return rules.finding("FHIR-PARSE", rules.ERROR, message, "", "", line)


def _matched(issue: ExpectedIssue, blocking: list[Finding]) -> bool:
    """Whether kcert reported an error at the issue's element, or at an element right above
    or inside it (validators differ on whether a missing child is reported on the parent), or,
    for input it could not read, at the issue's line."""
    wanted = _bare(issue.path)
    for finding in blocking:
        found = _bare(finding.location.path)
        if found == wanted or _within(found, wanted) or _within(wanted, found):
            return True
        # what kcert could not even read is reported at its line, not at an element
        if not found and issue.line is not None and finding.location.line == issue.line:
            return True
    return False


def _bare(path: str) -> str:
    return path.replace("[0]", "") if path.count("[") else path


def _within(inner: str, outer: str) -> bool:
    if not outer or not inner.startswith(outer):
        return False
    rest = inner[len(outer) :]
    return rest.startswith((".", "[")) and rest.count(".") <= 1


@dataclass
class Summary:
    in_scope: int
    agreeing: int
    crashes: int
    judged_errors: int
    found_errors: int
    out_of_scope: Counter[str]

    @property
    def agreement(self) -> float:
        return self.agreeing / self.in_scope if self.in_scope else 0.0

    @property
    def errors_found(self) -> float:
        return self.found_errors / self.judged_errors if self.judged_errors else 0.0


def run_suite(
    folder: Path, base_packages: Iterable[Path]
) -> tuple[Summary, list[StepResult], dict[str, str]]:
    runner = SuiteRunner(folder, base_packages)
    results: list[StepResult] = []
    skipped: dict[str, str] = {}
    for case in load_cases(folder):
        reason = scope_reason(case, folder)
        if reason is not None:
            skipped[case.name] = reason
            continue
        results += runner.run(case)
    summary = Summary(
        in_scope=len(results),
        agreeing=sum(r.agrees for r in results),
        crashes=sum(bool(r.crash) for r in results),
        judged_errors=sum(r.judged_errors for r in results),
        found_errors=sum(r.found_errors for r in results),
        out_of_scope=Counter(reason.split(":")[0] for reason in skipped.values()),
    )
    return summary, results, skipped


def main(argv: list[str] | None = None) -> int:
    from harness.packs.store import PackStore

    args = list(sys.argv[1:] if argv is None else argv)
    show = "--cases" in args
    args = [a for a in args if not a.startswith("--")]
    folder = Path(args[0]) if args else Path("../shared/corpus/fhir/validator-tests")
    core = PackStore().find("hl7.fhir.r4.core", "4.0.1")
    if core is None:
        print("install the FHIR R4 base package first: kcert packs build-core --install")
        return 2
    started = time.perf_counter()
    try:
        summary, results, skipped = run_suite(folder, [core.root])
    except (OSError, PackageError, ValueError) as exc:
        print(f"cannot run the suite in {folder}: {exc}")
        return 2
    elapsed = time.perf_counter() - started
    if show:
        for result in results:
            mark = "ok  " if result.agrees else "DIFF"
            detail = result.crash or (
                f"expected {'valid' if result.expected_valid else 'invalid'}, kcert "
                f"{'valid' if result.valid else 'invalid'}; errors found "
                f"{result.found_errors}/{result.judged_errors}"
            )
            print(f"{mark} {result.case} [{result.step}] {detail}")
    print(
        f"FHIR validator suite: {summary.agreeing}/{summary.in_scope} steps agree "
        f"({summary.agreement:.1%}), error-level issues found {summary.found_errors}/"
        f"{summary.judged_errors} ({summary.errors_found:.1%}), crashes {summary.crashes}, "
        f"{len(skipped)} cases out of scope, {elapsed:.1f} s"
    )
    for reason, count in summary.out_of_scope.most_common():
        print(f"  out of scope: {count:3} {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
