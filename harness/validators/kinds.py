"""The document kinds `kcert validate` tells apart (a module of its own so that the command
line can offer them without loading the validators)."""

from __future__ import annotations

KINDS = ("cda", "fhir", "oioxml")
