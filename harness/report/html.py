"""The human report: index.html, like a MedCom test protocol, in Danish or English."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jinja2

from harness.checks.rules import rule_title
from harness.model.outcome import Outcome, Severity
from harness.model.result import RunResult, StepResult
from harness.report.evidence import attachment_name
from harness.report.i18n import labels, outcome_text, scope_text, verdict_text
from harness.report.results_json import answerers, requirement_coverage

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)


def step_assessment(step: StepResult) -> str:
    if step.outcome is Outcome.ERROR:
        return "—"
    if step.outcome is Outcome.PENDING:
        return "?"
    return Severity.gravest(f.severity for f in step.findings if f.is_problem).value


def render_html(run: RunResult, lang: str = "da") -> str:
    coverage = requirement_coverage(run)
    for row in coverage.values():
        row["outcome_text"] = outcome_text(Outcome(row["outcome"]), lang)
    counts = Counter(c.outcome for c in run.cases)
    return _ENV.get_template("report.html.j2").render(
        run=run,
        lang=lang,
        L=labels(lang),
        verdict=run.verdict,
        verdict_text=verdict_text(run.verdict, lang),
        # "not in scope" last: the columns read from what ran to what did not
        outcomes=[o for o in Outcome if o is not Outcome.NOT_IN_SCOPE] + [Outcome.NOT_IN_SCOPE],
        counts={o: counts.get(o, 0) for o in Outcome},
        coverage=coverage,
        outcome_text=lambda o: outcome_text(o, lang),
        step_assessment=step_assessment,
        rule_title=lambda rule: rule_title(rule, lang),
        place=run.place or "—",
        attachment_name=attachment_name,
        scope_text=scope_text(run.scope, lang),
        # the recorded reason, said again in the report's language from the same scope
        outside=lambda c: run.scope.why_not(c.case.needs, lang) or c.not_in_scope,
        answerers=answerers(run),
    )


def write_html(run: RunResult, path: Path, lang: str = "da") -> Path:
    path.write_text(render_html(run, lang), encoding="utf-8")
    return path
