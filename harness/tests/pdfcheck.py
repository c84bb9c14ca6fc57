"""Reading a rendered PDF back for kcert's layout tests: text boxes against the page box."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

pdfplumber = pytest.importorskip(
    "pdfplumber", reason="pdfplumber is not installed: pip install -e '.[dev]'"
)

MM = 72 / 25.4  # PDF points per millimetre
SIDE_MARGIN_MM = 14  # report.pdf's @page left/right margin (harness/report/pdf.py)


@dataclass(frozen=True)
class Stray:
    page: int
    text: str
    x0: float
    x1: float
    top: float
    bottom: float


@dataclass(frozen=True)
class Image:
    page: int
    width_mm: float
    height_mm: float


@dataclass(frozen=True)
class PdfFacts:
    """What the layout tests look at, read in one pass (pdfminer parses each page once)."""

    texts: list[str]
    stray: list[Stray]  # characters outside the page box or in the side margins
    images: list[Image]


def read_pdf(path: Path, margin_mm: float = 0.0) -> PdfFacts:
    """`margin_mm`: characters this close to the left or right edge count as stray too."""
    texts: list[str] = []
    stray: list[Stray] = []
    images: list[Image] = []
    inset = margin_mm * MM - 0.5  # half a point of rounding
    with pdfplumber.open(path) as pdf:
        for number, page in enumerate(pdf.pages, 1):
            left, right = inset, page.width - inset
            for ch in page.chars:
                if not ch["text"].strip():
                    continue
                outside = ch["x0"] < left or ch["x1"] > right
                if outside or ch["top"] < 0 or ch["bottom"] > page.height:
                    stray.append(
                        Stray(number, ch["text"], ch["x0"], ch["x1"], ch["top"], ch["bottom"])
                    )
            texts.append(page.extract_text() or "")
            images += [
                Image(number, (i["x1"] - i["x0"]) / MM, (i["bottom"] - i["top"]) / MM)
                for i in page.images
            ]
    return PdfFacts(texts, stray, images)


SEPARATORS = "/_-.:=&?#,"


def broken_names(text: str, names: list[str]) -> list[str]:
    """Each name that the text wraps somewhere else than right after a separator."""
    bad = []
    for name in names:
        pattern = "\n?".join(re.escape(ch) for ch in name)
        for match in re.finditer(pattern, text):
            piece = match.group(0)
            for i, ch in enumerate(piece):
                if ch == "\n" and piece[i - 1] not in SEPARATORS:
                    bad.append(piece.replace("\n", "⏎"))
                    break
    return bad
