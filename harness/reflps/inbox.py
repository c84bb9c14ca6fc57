"""The reference LPS's inbox page: received messages as the GP would see them."""

from __future__ import annotations

from html import escape

from harness.reflps.storage import StoredMessage

_PAGE = """<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>Indbakke — {clinic}</title>
<style>body {{ font-family: Arial, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #999; padding: .3em .6em; }}
th {{ background: #e8eef8; }} .unread {{ font-weight: bold; }}</style></head>
<body><h1>Indbakke</h1><p>{clinic}: {count} meddelelse(r)</p>
<table><tr><th>Modtaget</th><th>Afsender (SOR)</th><th>Patient (CPR)</th><th>Type</th>
<th>Handling</th><th>Status</th></tr>
{rows}
</table></body></html>
"""


def render_inbox(messages: list[StoredMessage], clinic: str) -> str:
    rows = "\n".join(
        f'<tr class="unread"><td>{escape(m.received_at)}</td><td>{escape(m.sender_sor)}</td>'
        f"<td>{escape(m.patient_cpr)}</td><td>{escape(m.event)}</td>"
        f"<td>{escape(m.activity)}</td><td>Ulæst</td></tr>"
        for m in sorted(messages, key=lambda m: m.received_at, reverse=True)
    )
    return _PAGE.format(clinic=escape(clinic), count=len(messages), rows=rows)
