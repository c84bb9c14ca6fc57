"""The errors of FHIR reading and writing, apart so every harness.fhir module can raise them."""

from __future__ import annotations


class FhirReadError(ValueError):
    """The body is well-formed but is not a FHIR resource kcert can read; `line` when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


class FhirWriteError(ValueError):
    """A JSON-shaped resource cannot be written as FHIR XML; the text names the JSON path."""
