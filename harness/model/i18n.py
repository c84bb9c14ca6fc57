"""Bilingual text: reports default to Danish, English on request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LANGUAGES = ("da", "en")


@dataclass(frozen=True)
class Text:
    """A text in Danish and English; a missing language falls back to the other."""

    da: str = ""
    en: str = ""

    def get(self, lang: str) -> str:
        if lang == "en":
            return self.en or self.da
        return self.da or self.en

    @staticmethod
    def of(value: Any) -> Text:
        """Accept a plain string (used for both) or a mapping with da/en."""
        if value is None:
            return Text()
        if isinstance(value, str):
            return Text(value, value)
        return Text(str(value.get("da", "")), str(value.get("en", "")))

    def to_dict(self) -> dict[str, str]:
        return {"da": self.da, "en": self.en}
