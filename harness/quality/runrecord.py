"""A data-quality run as a kcert run (`build_run`), recorded through the one run path
(`record`: `runpath.record_and_finish`, as a load run is).

Why a RunResult and not a folder of its own plus a run row: one run path. `kcert runs list`
shows the run, its results.json, JUnit, index.html (and report.pdf), manifest and signature
come from the same writer as every run's, and `kcert verify` checks the quality folder with
the rest, since it is written into the run folder before the manifest.

The shape: one protocol `quality-<catalogue id>` (its file the catalogue, its version and
SHA-256 the catalogue's), one case per clinic (`DQ-<sor>`), and in each case step 1 "the
extract read and scored" (the clinic's plots as artifacts, so index.html and report.pdf show
them) and then one step per check, the check's id as the step id.

Severity, decided: a failed check is an F3 finding of its step. F3 blocks approval — the
data the cockpit lists and plans read is wrong beyond the tolerated fraction and must be
fixed — but it is no fault of the LPS software's conformance (F1/F2 are kept for those); the
exit code is then 1 (Ikke godkendt). A check kcert could not evaluate makes its step an
error (Fejl, exit 2); a check that does not apply (denominator 0) is skipped with the reason.
The patient lists are not artifacts (they would be a second copy of every failing CPR in the
evidence folder): a finding names its list under `quality/` as its evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.checks.realcpr import mask_text
from harness.dates import now_iso
from harness.model.finding import Finding, Location
from harness.model.i18n import Text
from harness.model.outcome import Outcome, Severity
from harness.model.protocol import Protocol, Source, Step, TestCase
from harness.model.result import (
    Artifact,
    CaseResult,
    ProtocolResult,
    RunResult,
    StepResult,
    SutInfo,
)
from harness.quality.model import CheckResult, CheckSpec, ClinicScore, QualityRun, Status
from harness.quality.report.data import clinic_slugs, failing_file
from harness.quality.report.folder import FOLDER
from harness.quality.report.words import WORDS, percent
from harness.session import runpath
from harness.store.runstore import RunStore

REQUIREMENT = "MVP1-MC-03"  # the national plan's requirement a data-quality run serves
CHOICE_KIND = "quality-extracts"  # the run row's choice: no SUT kcert resumes or rejudges
CATALOGUE_FILE = runpath.QUALITY_CATALOGUE  # the run row's protocol file kind: a check catalogue
SEVERITY = Severity.F3  # a failed check (see above)
RULE_PREFIX = "DQ-"


def build_run(
    qrun: QualityRun,
    plots: dict[str, tuple[bytes, bytes]],
    *,
    run_id: str,
    lang: str = "da",
    tester: str = "",
    suite_version: str = "",
    sources: Sequence[str] = (),
) -> RunResult:
    """`plots`: per clinic slug its (rates, data age) SVGs, the step-1 artifacts."""
    protocol = protocol_of(qrun)
    slugs = clinic_slugs(qrun)
    cases = [
        _case(protocol.id, case, clinic, slug, plots.get(slug), lang, qrun.started)
        for case, clinic, slug in zip(protocol.cases, qrun.clinics, slugs, strict=True)
    ]
    return RunResult(
        run_id=run_id,
        sut=SutInfo(
            name=mask_text(", ".join(sources)[:200]) or "extract",
            vendor=", ".join(sorted({c.vendor for c in qrun.clinics if c.vendor})),
            version="",
            transport="file",
            endpoints={},
            identity={},
        ),
        test_type="egentest",
        tester=tester,
        started=qrun.started or now_iso(),
        finished=now_iso(),
        protocols=[ProtocolResult(protocol, cases)],
        suite_version=suite_version,
        lang=lang,
    )


def record(
    run: RunResult, qrun: QualityRun, reporting: runpath.Reporting, store: RunStore, source: str
) -> Path:
    """The run in the store and its reports written (`runpath.record_and_finish`)."""
    choice = {"kind": CHOICE_KIND, "source": source, "config_file": ""}
    return runpath.record_and_finish(store, run, reporting, choice, CATALOGUE_FILE)


def protocol_of(qrun: QualityRun) -> Protocol:
    catalogue = qrun.catalogue
    where = Source(str(catalogue.path.resolve()) if catalogue.path else catalogue.id, 1)
    da, en = WORDS["da"], WORDS["en"]
    cases = []
    for clinic, slug in zip(qrun.clinics, clinic_slugs(qrun), strict=True):
        specs = [r.check for r in clinic.results] or list(catalogue.checks)
        steps = [
            Step(
                "1",
                Text(da["scored_step"], en["scored_step"]),
                mask_text(clinic.source),
                Text(da["scored_expected"], en["scored_expected"]),
                None,
                (),
                where,
            ),
            *(_check_step(spec, where) for spec in specs),
        ]
        label = mask_text(f"{clinic.name} ({clinic.clinic})" if clinic.name else clinic.clinic)
        cases.append(
            TestCase(
                f"DQ-{slug}",
                Text(label, label),
                (REQUIREMENT,),
                SEVERITY,
                tuple(steps),
                where,
            )
        )
    return Protocol(
        f"quality-{catalogue.id}",
        catalogue.version,
        Text("Datakvalitet: " + catalogue.id, "Data quality: " + catalogue.id),
        "lps-data-quality",
        "quality",
        tuple(cases),
        where,
        sha256=catalogue.sha256,
    )


def _check_step(spec: CheckSpec, where: Source) -> Step:
    line = Source(where.file, spec.line) if spec.line else where
    return Step(
        spec.id,
        Text(spec.title_da, spec.title_en),
        f"{spec.category.value} · {spec.level.value}",
        Text(
            WORDS["da"]["check_expected"].format(threshold=percent(spec.threshold, "da")),
            WORDS["en"]["check_expected"].format(threshold=percent(spec.threshold, "en")),
        ),
        None,
        (),
        line,
    )


def _case(
    protocol_id: str,
    case: TestCase,
    clinic: ClinicScore,
    slug: str,
    svgs: tuple[bytes, bytes] | None,
    lang: str,
    started: str,
) -> CaseResult:
    w = WORDS["en" if lang == "en" else "da"]
    by_id = {r.check.id: r for r in clinic.results}
    steps: list[StepResult] = []
    artifacts = []
    if svgs is not None:
        rates_caption = Text(WORDS["da"]["rates_title"], WORDS["en"]["rates_title"])
        age_caption = Text(WORDS["da"]["age_title"], WORDS["en"]["age_title"])
        artifacts = [
            Artifact("rates.svg", "image/svg+xml", svgs[0], rates_caption),
            Artifact("data-age.svg", "image/svg+xml", svgs[1], age_caption),
        ]
    statuses = [r.status for r in clinic.results]
    applicable = [s for s in statuses if s in (Status.PASSED, Status.FAILED)]
    score = "—" if clinic.score is None else f"{clinic.score:.1f}"
    steps.append(
        StepResult(
            case.steps[0],
            Outcome.PASS,
            message=w["summary_clinic"].format(
                sor=clinic.clinic,
                name=mask_text(clinic.name),
                score=score,
                passed=applicable.count(Status.PASSED),
                applicable=len(applicable),
            ),
            artifacts=artifacts,
        )
    )
    for step in case.steps[1:]:
        steps.append(_check_result(step, by_id.get(step.id), slug, lang))
    return CaseResult(case, protocol_id, steps, started=started)


def _check_result(step: Step, result: CheckResult | None, slug: str, lang: str) -> StepResult:
    w = WORDS["en" if lang == "en" else "da"]
    if result is None:
        return StepResult(step, Outcome.SKIP, message="—")
    rate = percent(result.rate, lang)
    figures = f"{rate} ({result.numerator}/{result.denominator})"
    if result.status is Status.ERROR:
        return StepResult(step, Outcome.ERROR, message=mask_text(result.reason))
    if result.status is Status.NOT_APPLICABLE:
        return StepResult(step, Outcome.SKIP, message=mask_text(result.reason))
    if result.status is Status.PASSED:
        return StepResult(step, Outcome.PASS, message=figures)
    finding = Finding(
        RULE_PREFIX + result.check.id,
        SEVERITY,
        w["found"].format(
            id=result.check.id,
            rate=rate,
            num=result.numerator,
            den=result.denominator,
            threshold=percent(result.check.threshold, lang),
        ),
        Location(
            path=result.check.id,
            language="quality",
            evidence=f"{FOLDER}/{failing_file(slug, result.check.id)}",
        ),
        step_id=step.id,
    )
    return StepResult(step, Outcome.FAIL, [finding], message=figures)
