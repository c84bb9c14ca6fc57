"""report.pdf: the same report as index.html, paginated for signing and archiving (weasyprint)."""

from __future__ import annotations

from pathlib import Path

from harness.model.result import RunResult
from harness.report.html import render_html
from harness.report.i18n import labels

# Page-margin boxes do not inherit the body font: it is set on them explicitly.
_PRINT_CSS = """
@page {{
  size: A4; margin: 18mm 14mm 20mm 14mm;
  @top-left {{ content: "{title}"; font-family: "DejaVu Sans", sans-serif; font-size: 8pt;
               color: #4a5560; }}
  @bottom-right {{ content: "{page} " counter(page) " / " counter(pages);
                   font-family: "DejaVu Sans", sans-serif; font-size: 8pt; }}
  @bottom-left {{ content: "{run_id}"; font-family: "DejaVu Sans Mono", monospace;
                  font-size: 7pt; color: #4a5560; }}
}}
body {{ margin: 0; font-size: 9pt; }}
.case {{ break-inside: avoid-page; }}
table {{ font-size: 8pt; }}
a {{ color: inherit; text-decoration: none; }}
"""


def write_pdf(run: RunResult, path: Path, lang: str = "da") -> Path:
    import weasyprint

    page = "Side" if lang != "en" else "Page"
    css = _PRINT_CSS.format(title=labels(lang)["title"], page=page, run_id=run.run_id)
    html = render_html(run, lang).replace("</head>", f"<style>{css}</style></head>", 1)
    weasyprint.HTML(string=html, base_url=str(path.parent)).write_pdf(str(path))
    return path
