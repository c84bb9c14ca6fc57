"""Titles of the national plan's requirement ids (requirements.yaml), in Danish and English."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

DATA = Path(__file__).with_name("requirements.yaml")
WORDINGS = ("plan", "kcert")


class RequirementDataError(ValueError):
    """requirements.yaml is not as documented; the text names the id and field."""


@dataclass(frozen=True)
class RequirementTitle:
    id: str
    da: str
    en: str
    wording: str  # "plan": the national plan's own words; "kcert": kcert's description

    def text(self, lang: str) -> str:
        return self.en if lang == "en" else self.da

    @property
    def official(self) -> bool:
        return self.wording == "plan"


def parse(text: str, source: str = str(DATA)) -> dict[str, RequirementTitle]:
    """The titles in `text`, checked: every entry has da, en and a known wording."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RequirementDataError(f"{source}: not YAML ({exc})") from None
    if not isinstance(doc, dict) or doc.get("kcert-requirements") != 1:
        raise RequirementDataError(f"{source}: expected `kcert-requirements: 1` at the top")
    entries = doc.get("requirements")
    if not isinstance(entries, dict):
        raise RequirementDataError(f"{source}: `requirements` must map ids to titles")
    titles: dict[str, RequirementTitle] = {}
    for req_id, entry in entries.items():
        if not isinstance(entry, dict):
            raise RequirementDataError(f"{source}: requirements.{req_id}: expected da, en, wording")
        for key in ("da", "en"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise RequirementDataError(f"{source}: requirements.{req_id}.{key}: missing title")
        if entry.get("wording") not in WORDINGS:
            raise RequirementDataError(
                f"{source}: requirements.{req_id}.wording: one of {', '.join(WORDINGS)}"
            )
        titles[str(req_id)] = RequirementTitle(
            str(req_id), entry["da"].strip(), entry["en"].strip(), entry["wording"]
        )
    return titles


@functools.cache
def requirement_titles() -> dict[str, RequirementTitle]:
    return parse(DATA.read_text(encoding="utf-8"))


def requirement_title(req_id: str, lang: str) -> str:
    """The title, or "" for an id kcert has no title for (the report then shows the id alone)."""
    title = requirement_titles().get(req_id)
    return title.text(lang) if title else ""


def is_official(req_id: str) -> bool:
    title = requirement_titles().get(req_id)
    return bool(title and title.official)
