"""signature.html / signature.pdf: the signature of a signed run, as a page to print and file.

Written by `kcert sign` right after manifest.sig, from manifest.json and manifest.sig alone. The
report itself is inside the signed manifest and so cannot name its own signature; this page is
outside it (like manifest.sig) and embeds the facts it states, which `kcert verify` compares
with the signature.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from harness.dossier.manifest import MANIFEST, SIGNATURE, SIGNATURE_PAGES, read_manifest
from harness.dossier.signing import manifest_sha256, read_signature
from harness.model.outcome import Verdict
from harness.report.html import breakable
from harness.report.i18n import labels, verdict_text
from harness.report.pdf import html_to_pdf

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)
REPORTS = ("report.pdf", "index.html")


def signature_facts(run_dir: Path) -> dict[str, Any]:
    """What the page states: who signed with which key, over which manifest (verify checks)."""
    signature = read_signature(run_dir)
    return {
        "signer": signature.get("signer", ""),
        "fingerprint": signature["fingerprint"],
        "manifest_sha256": manifest_sha256(run_dir),
    }


def page_lang(run_dir: Path, lang: str | None = None) -> str:
    """The language asked for, else the run's own (manifest.json), else Danish."""
    return "en" if (lang or read_manifest(run_dir).get("lang")) == "en" else "da"


def render_signature_page(run_dir: Path, lang: str) -> str:
    manifest = read_manifest(run_dir)
    signature = read_signature(run_dir)
    facts = signature_facts(run_dir)
    try:
        verdict = verdict_text(Verdict(manifest.get("verdict", "")), lang)
    except ValueError:
        verdict = str(manifest.get("verdict", ""))
    files = manifest["files"]
    # "</" cannot end the script element early: the JSON is escaped for the HTML parser.
    embedded = Markup(json.dumps(facts, ensure_ascii=True).replace("</", "<\\/"))
    return _ENV.get_template("signature.html.j2").render(
        L=labels(lang),
        lang=lang,
        manifest=manifest,
        # a hand-made manifest may lack fields a run always writes: the page still renders
        run_id=str(manifest.get("run_id") or run_dir.name),
        sut=manifest.get("sut") if isinstance(manifest.get("sut"), dict) else {},
        signature=signature,
        facts=facts,
        embedded=embedded,
        verdict=verdict,
        reports=[(name, files[name]) for name in REPORTS if name in files],
        manifest_name=MANIFEST,
        signature_name=SIGNATURE,
        breakable=breakable,
    )


def write_signature_page(run_dir: Path, lang: str | None = None) -> list[Path]:
    """signature.html always; signature.pdf too when the run has report.pdf."""
    lang = page_lang(run_dir, lang)
    html = render_signature_page(run_dir, lang)
    html_path = run_dir / SIGNATURE_PAGES[0]
    html_path.write_text(html, encoding="utf-8")
    written = [html_path]
    if (run_dir / "report.pdf").is_file():
        pdf_path = run_dir / SIGNATURE_PAGES[1]
        run_id = str(read_manifest(run_dir).get("run_id", ""))
        html_to_pdf(html, pdf_path, labels(lang)["signature_title"], run_id, lang)
        written.append(pdf_path)
    return written
