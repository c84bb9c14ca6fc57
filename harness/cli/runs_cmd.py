"""`kcert runs list|show|systems` and `kcert diff A B`: the run history in the store."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from rich.console import Console
from rich.table import Column, Table

from harness.cli.errors import UsageProblem
from harness.cli.runflow import open_store
from harness.cli.words import say, state, verdict
from harness.model.outcome import Outcome, Verdict
from harness.model.scope import Scope
from harness.report.i18n import scope_text
from harness.store.history import (
    DIRECTION_TEXT,
    RunDiff,
    approved_systems,
    diff_runs,
    standard_text,
    status_text,
)
from harness.store.history_html import diff_notes, diff_sections, render_diff, render_systems
from harness.store.runstore import StoreError

SHOWN_FINDINGS = 6  # per case on the terminal; --html and --json list all


def run_list(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        rows = store.runs(args.limit)
    finally:
        store.close()
    table = Table("started", "status", "verdict", "SUT", "type", "tester", "suite")
    # The id is what every other command takes: never shortened or wrapped, however narrow
    # the terminal (the other columns give way).
    width = max((len(r.run_id) for r in rows), default=3)
    table.columns.insert(0, Column("run", no_wrap=True, min_width=width, overflow="ignore"))
    for r in rows:
        kind = r.test_type + (f" (rejudge of {r.parent_run})" if r.relation == "rejudge" else "")
        table.add_row(
            r.run_id,
            r.started,
            r.status,
            _verdict(r.verdict, args.lang),
            f"{r.sut_name} {r.sut_version}",
            kind,
            r.tester or "—",
            r.suite_version,
        )
    console.print(table)
    console.print(
        say(args.lang, "runs_in", n=len(rows), store=store.url.split("@")[-1]), highlight=False
    )
    return 0


def run_show(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        row = store.run(store.resolve(args.run))
        cases = store.case_summaries(row.run_id)
        answers = store.answers(row.run_id)
    except StoreError as exc:
        raise UsageProblem(str(exc)) from None
    finally:
        store.close()
    console.print(
        f"[bold]{row.run_id}[/]  {row.status}, {_verdict(row.verdict, args.lang)}",
        highlight=False,
    )
    for label, value in (
        ("SUT", f"{row.sut_name} {row.sut_version} ({row.sut.get('vendor', '')})"),
        ("test type", row.test_type),
        ("operator", row.tester or "—"),
        ("scope", scope_text(Scope.from_dict(row.sut.get("scope")), args.lang)),
        ("started", f"{row.started} – {row.finished or '…'}"),
        ("suite", row.suite_version),
        ("packs", ", ".join(f"{p['id']} {p['version']}" for p in row.packs) or "none"),
        ("protocols", ", ".join(f"{p['id']} {p['version']}" for p in row.protocols)),
        ("parent", f"{row.relation} of {row.parent_run}" if row.parent_run else "—"),
        ("report", row.run_dir or "—"),
    ):
        console.print(f"  {label:10} {value}", highlight=False)
    table = Table("protocol", "case", "outcome", "assessment", "findings")
    for c in cases:
        problems = [f for f in c["findings"] if f["severity"] != "OK"]
        text = "; ".join(f"{f['rule_id']} [{f['severity']}]" for f in problems[:4])
        table.add_row(
            c["protocol_id"],
            c["case_id"],
            _state(c["outcome"], args.lang),
            c["assessment"],
            text + (" …" if len(problems) > 4 else "") or c["error"][:80],
        )
    console.print(table)
    for a in answers:
        console.print(
            f"  answer {a.case_id} step {a.step_id}: [{a.verdict}] {a.note} — {a.tester}, "
            f"{a.answered_at or 'time not recorded'}"
            + (f", {len(a.attachments)} attachment(s)" if a.attachments else ""),
            highlight=False,
        )
    if row.status != "finished":
        console.print(say(args.lang, "unfinished", n=len(cases), run=row.run_id), highlight=False)
    return 0


def _verdict(value: str, lang: str) -> str:
    """A stored verdict ("ikke-godkendt") in the console's words; "—" for none yet."""
    if value in {v.value for v in Verdict}:
        return verdict(Verdict(value), lang)
    return value or "—"


def _state(value: str, lang: str) -> str:
    try:
        return state(Outcome(value), lang)
    except ValueError:
        return value


def run_systems(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        rows = approved_systems(store)
    finally:
        store.close()
    lang = args.lang
    table = Table("System", "Version", "Standard", "Protocol", "Direction", "Status", "Date")
    for s in rows:
        table.add_row(
            s.system,
            s.version,
            standard_text(s),
            f"{s.protocol} v{s.protocol_version}",
            DIRECTION_TEXT[s.direction][lang],
            status_text(s, lang),
            s.date,
        )
    console.print(table)
    if args.html:
        args.html.write_text(render_systems(rows, lang), encoding="utf-8")
        console.print(f"written: {args.html}", highlight=False)
    return 0


def run_diff(args: argparse.Namespace, console: Console) -> int:
    store = open_store(args.store, args.reports)
    try:
        d = diff_runs(store, store.resolve(args.run_a), store.resolve(args.run_b))
    except StoreError as exc:
        raise UsageProblem(str(exc)) from None
    finally:
        store.close()
    if args.json:
        console.print_json(json.dumps(_diff_json(d), ensure_ascii=False))
    else:
        _print_diff(d, console, args.lang)
    if args.html:
        args.html.write_text(render_diff(d, args.lang), encoding="utf-8")
        console.print(f"written: {args.html}", highlight=False)
    return 1 if d.new_failures else 0


def _diff_json(d: RunDiff) -> dict[str, object]:
    return {
        "a": d.a.run_id,
        "b": d.b.run_id,
        "new_failures": [asdict(c) for c in d.new_failures],
        "fixed": [asdict(c) for c in d.fixed],
        "changed_findings": [asdict(c) for c in d.changed_findings],
        "other_changes": [asdict(c) for c in d.other_changes],
        "added": d.added,
        "removed": d.removed,
        "suite": list(d.suite) if d.suite else None,
        "scope": list(d.scope) if d.scope else None,
        "packs": d.packs,
        "protocols": d.protocols,
    }


def _print_diff(d: RunDiff, console: Console, lang: str) -> None:
    console.print(
        f"A {d.a.run_id} ({d.a.verdict})  →  B {d.b.run_id} ({d.b.verdict})", highlight=False
    )
    if d.identical:
        console.print("no differences", highlight=False)
        return
    for title, rows, _cls in diff_sections(d, lang):
        if not rows:
            continue
        console.print(f"[bold]{title}[/] ({len(rows)})")
        for c in rows:
            console.print(f"  {c.case_id:14} {c.before or '—'} → {c.after}", highlight=False)
            lines = [f"+ {f}" for f in sorted(set(c.findings_after) - set(c.findings_before))]
            lines += [f"- {f}" for f in sorted(set(c.findings_before) - set(c.findings_after))]
            for line in lines[:SHOWN_FINDINGS]:
                console.print(f"      {line}", highlight=False)
            if len(lines) > SHOWN_FINDINGS:
                console.print(
                    f"      … {len(lines) - SHOWN_FINDINGS} more (--html or --json)",
                    highlight=False,
                )
    for title, lines in diff_notes(d, lang):
        if lines:
            console.print(f"[bold]{title}[/]: " + "; ".join(lines), highlight=False)
