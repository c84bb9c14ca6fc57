"""report.pdf: the same report as index.html, paginated for signing and archiving (weasyprint)."""

from __future__ import annotations

from pathlib import Path

from harness.model.result import RunResult
from harness.report.html import render_html
from harness.report.i18n import labels

# Page-margin boxes do not inherit the body font: it is set on them explicitly. Tables have a
# fixed layout with column widths (report.html.j2), so nothing is wider than the page box.
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


def _css_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def html_to_pdf(html: str, path: Path, title: str, run_id: str, lang: str = "da") -> Path:
    """`html` as an A4 PDF with the page header, the run id and page numbers on every page."""
    import weasyprint

    page = "Side" if lang != "en" else "Page"
    css = _PRINT_CSS.format(title=_css_string(title), page=page, run_id=_css_string(run_id))
    html = html.replace("</head>", f"<style>{css}</style></head>", 1)
    weasyprint.HTML(string=html, base_url=str(path.parent)).write_pdf(str(path))
    return path


def write_pdf(run: RunResult, path: Path, lang: str = "da") -> Path:
    return html_to_pdf(render_html(run, lang), path, labels(lang)["title"], run.run_id, lang)
