"""HTML views of the run history: a diff between two runs, and the approved-systems table."""

from __future__ import annotations

import jinja2

from harness.store.history import (
    DIRECTION_TEXT,
    CaseChange,
    RunDiff,
    SystemStatus,
    standard_text,
    status_text,
)

_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_STYLE = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #bbb;
padding: .3em .6em; text-align: left; vertical-align: top; } th { background: #eef; }
.new { color: #a00; } .fixed { color: #070; } .mono { font-family: monospace; }
.godkendt { background: #dfd; } .ikke-godkendt { background: #fdd; } .tester { background: #ffd; }
.ikke-omfattet { color: #667; font-style: italic; }
"""

_DIFF = _ENV.from_string(
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<title>kcert diff {{ d.a.run_id }} → {{ d.b.run_id }}</title><style>{{ style }}</style></head>
<body>
<h1>{{ "Forskelle mellem to kørsler" if lang == "da" else "Differences between two runs" }}</h1>
<table>
<tr><th></th><th>A</th><th>B</th></tr>
<tr><th>Run</th><td class="mono">{{ d.a.run_id }}</td><td class="mono">{{ d.b.run_id }}</td></tr>
<tr><th>SUT</th><td>{{ d.a.sut_name }} {{ d.a.sut_version }}</td>
<td>{{ d.b.sut_name }} {{ d.b.sut_version }}</td></tr>
<tr><th>Verdict</th><td>{{ d.a.verdict }}</td><td>{{ d.b.verdict }}</td></tr>
<tr><th>Suite</th><td>{{ d.a.suite_version }}</td><td>{{ d.b.suite_version }}</td></tr>
</table>
{% for title, rows, cls in sections %}
<h2 class="{{ cls }}">{{ title }} ({{ rows | length }})</h2>
{% if rows %}<table><tr><th>Protocol</th><th>Case</th><th>A</th><th>B</th><th>Findings A</th>
<th>Findings B</th></tr>
{% for c in rows %}<tr><td>{{ c.protocol_id }}</td><td>{{ c.case_id }}</td>
<td>{{ c.before or "—" }}</td><td>{{ c.after }}</td>
<td class="mono">{% for f in c.findings_before %}{{ f }}<br>{% endfor %}</td>
<td class="mono">{% for f in c.findings_after %}{{ f }}<br>{% endfor %}</td></tr>
{% endfor %}</table>{% endif %}
{% endfor %}
{% for title, lines in notes %}{% if lines %}<h2>{{ title }}</h2><ul>
{% for line in lines %}<li class="mono">{{ line }}</li>{% endfor %}</ul>{% endif %}{% endfor %}
</body></html>
"""
)

_SYSTEMS = _ENV.from_string(
    """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>{{ style }}</style></head>
<body><h1>{{ title }}</h1>
<table><tr>{% for h in heads %}<th>{{ h }}</th>{% endfor %}</tr>
{% for s in rows %}<tr><td>{{ s.system }}</td><td>{{ s.version }}</td>
<td>{{ standard_text(s) }}</td>
<td>{{ s.protocol }} v{{ s.protocol_version }}</td><td>{{ directions[s.direction][lang] }}</td>
<td class="{{ s.status }}">{{ status_text(s, lang) }}</td><td>{{ s.date }}</td>
<td class="mono">{{ s.run_id }}</td></tr>
{% endfor %}</table></body></html>
"""
)


def diff_sections(d: RunDiff, lang: str) -> list[tuple[str, list[CaseChange], str]]:
    da = lang == "da"
    return [
        ("Nye ikke beståede" if da else "New failures", list(d.new_failures), "new"),
        ("Rettede" if da else "Fixed", list(d.fixed), "fixed"),
        ("Ændrede fund" if da else "Changed findings", list(d.changed_findings), ""),
        ("Andre ændringer" if da else "Other changes", list(d.other_changes), ""),
    ]


def diff_notes(d: RunDiff, lang: str) -> list[tuple[str, list[str]]]:
    da = lang == "da"
    return [
        ("Nye testcases" if da else "Added test cases", d.added),
        ("Fjernede testcases" if da else "Removed test cases", d.removed),
        ("Suite", [f"{d.suite[0]} → {d.suite[1]}"] if d.suite else []),
        ("Omfang" if da else "Scope", [f"{d.scope[0]} → {d.scope[1]}"] if d.scope else []),
        ("Pakker" if da else "Packs", d.packs),
        ("Protokoller" if da else "Protocols", d.protocols),
    ]


def render_diff(d: RunDiff, lang: str = "da") -> str:
    return _DIFF.render(
        d=d, lang=lang, style=_STYLE, sections=diff_sections(d, lang), notes=diff_notes(d, lang)
    )


def render_systems(rows: list[SystemStatus], lang: str = "da") -> str:
    da = lang == "da"
    heads = (
        ["System", "Version", "Standard", "Protokol", "Retning", "Status", "Dato", "Kørsel"]
        if da
        else ["System", "Version", "Standard", "Protocol", "Direction", "Status", "Date", "Run"]
    )
    return _SYSTEMS.render(
        rows=rows,
        lang=lang,
        style=_STYLE,
        heads=heads,
        title="Godkendte systemer" if da else "Approved systems",
        status_text=status_text,
        standard_text=standard_text,
        directions=DIRECTION_TEXT,
    )
