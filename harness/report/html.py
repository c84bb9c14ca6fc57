"""The human report: index.html, like a MedCom test protocol, in Danish or English."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

import harness.standards  # noqa: F401  (every standard's rule titles registered)
from harness.checks.rules import rule_title
from harness.model.answer import Attachment
from harness.model.outcome import Outcome, Severity
from harness.model.result import SLO_TABLE, RunResult, StepResult
from harness.report.evidence import artifact_name, attachment_name
from harness.report.i18n import labels, outcome_text, scope_text, verdict_text
from harness.report.requirements import is_official, requirement_title
from harness.report.results_json import answerers, requirement_coverage

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)

# Where a long name (evidence file, path, URL) may wrap: after a separator, never inside a token.
_SEPARATORS = re.compile(r"([/_\-.:=&?#,]+)")

# Image types a browser and weasyprint both show, told by their first bytes, not the file name.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")


def breakable(text: object) -> Markup:
    """`text` escaped, with a <wbr> after each separator so it wraps only there."""
    parts = _SEPARATORS.split(str(text))
    return Markup("").join(
        escape(part) + (Markup("<wbr>") if i % 2 else Markup("")) for i, part in enumerate(parts)
    )


def is_image(attachment: Attachment) -> bool:
    data = attachment.data
    return data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def step_assessment(step: StepResult) -> str:
    if step.outcome is Outcome.ERROR:
        return "—"
    if step.outcome is Outcome.PENDING:
        return "?"
    return Severity.gravest(f.severity for f in step.findings if f.is_problem).value


_SLO_STATUS = {"pass": Outcome.PASS, "fail": Outcome.FAIL, "error": Outcome.ERROR}
_SLO_CELLS = ("operation", "measure", "measured_text", "allowed_text", "severity")


def slo_tables(step: StepResult) -> list[list[dict[str, object]]]:
    """The step's tables of objectives (`SLO_TABLE` artifacts), each row with its outcome; an
    artifact that does not read as one is left to its link."""
    tables = []
    for artifact in step.artifacts:
        if artifact.media_type != SLO_TABLE:
            continue
        try:
            rows = json.loads(artifact.data)
        except ValueError:
            continue
        if not isinstance(rows, list):
            continue
        table = [
            {
                **{k: str(row.get(k, "")) for k in _SLO_CELLS},
                "status": str(row.get("status", "")),
                "outcome": _SLO_STATUS.get(str(row.get("status")), Outcome.ERROR),
            }
            for row in rows
            if isinstance(row, dict)
        ]
        tables.append(table)
    return tables


def signoff_rows(run: RunResult, lang: str) -> list[tuple[str, str]]:
    """Who signs the report by hand, with the name where the run knows it (blank otherwise)."""
    L = labels(lang)
    return [
        (L["signoff_tester"], run.tester),
        (L["signoff_approver"], ""),
        (L["signoff_vendor"], ""),
    ]


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
        requirement_title=lambda req: requirement_title(req, lang),
        requirement_official=is_official,
        provisional_titles=any(
            requirement_title(req, lang) and not is_official(req) for req in coverage
        ),
        place=run.place or "—",
        attachment_name=attachment_name,
        artifact_name=artifact_name,
        slo_tables=slo_tables,
        scope_text=scope_text(run.scope, lang),
        # the recorded reason, said again in the report's language from the same scope
        outside=lambda c: run.scope.why_not(c.case.needs, lang) or c.not_in_scope,
        answerers=answerers(run),
        is_image=is_image,
        breakable=breakable,
        signoff=signoff_rows(run, lang),
    )


def write_html(run: RunResult, path: Path, lang: str = "da") -> Path:
    path.write_text(render_html(run, lang), encoding="utf-8")
    return path
