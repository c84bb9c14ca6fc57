"""Subordinate documents (ISO 2016 pattern/@documents): kcert loads them, never Saxon.

The pattern's expression is evaluated by the stylesheet on the document being validated; what
it names is read here like every other XML from outside (harness.safeparse: no DTD, no
entities, capped size and depth), only from local files under the document's own folder or the
schematron's, and only so many. A document that cannot be loaded is an error, never skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lxml import etree

from harness.safeparse import MAX_BYTES, PayloadError, parse_xml
from harness.validators.schematron.model import SchematronRunError

MAX_DOCUMENTS = 64  # per pattern and document


@dataclass(frozen=True)
class Subordinate:
    path: Path
    root: etree._Element

    @property
    def uri(self) -> str:
        return self.path.as_uri()


def uri_path(uri: str) -> str:
    """The local path a file URI names (Saxon writes file:/x as often as file:///x)."""
    parts = urlsplit(uri)
    return unquote(parts.path) if parts.scheme == "file" else uri


def resolve(reference: str, base: Path | None, allowed: tuple[Path, ...]) -> Path:
    """The local file a reference names, relative to the validated document's folder."""
    text = reference.strip()
    if not text:
        raise SchematronRunError("pattern/@documents named an empty document reference")
    parts = urlsplit(text)
    if parts.query or parts.fragment:
        raise SchematronRunError(f"subordinate document {text!r}: query or fragment not allowed")
    if parts.scheme:
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise SchematronRunError(
                f"subordinate document {text!r}: only local files can be read (no network)"
            )
        path = Path(unquote(parts.path))
    else:
        if base is None:
            raise SchematronRunError(
                f"subordinate document {text!r}: the validated document has no location to "
                "resolve it against"
            )
        path = base / unquote(parts.path)
    path = path.resolve()
    if not any(path.is_relative_to(folder) for folder in allowed):
        shown = " or ".join(str(f) for f in allowed)
        raise SchematronRunError(
            f"subordinate document {text!r} ({path}) lies outside {shown}; kcert reads none there"
        )
    return path


def load(references: list[str], base: Path | None, allowed: tuple[Path, ...]) -> list[Subordinate]:
    """The named documents, each parsed safely, in order and without repeats."""
    if len(references) > MAX_DOCUMENTS:
        raise SchematronRunError(
            f"pattern/@documents named {len(references)} documents; at most {MAX_DOCUMENTS}"
        )
    loaded: dict[Path, Subordinate] = {}
    for reference in references:
        path = resolve(reference, base, allowed)
        if path in loaded:
            continue
        try:
            if path.stat().st_size > MAX_BYTES:
                raise SchematronRunError(
                    f"subordinate document {reference!r} ({path}) is larger than {MAX_BYTES} bytes"
                )
            data = path.read_bytes()
        except OSError as exc:
            raise SchematronRunError(
                f"subordinate document {reference!r} ({path}) cannot be read: {exc.strerror or exc}"
            ) from None
        try:
            root = parse_xml(data)
        except PayloadError as exc:
            raise SchematronRunError(
                f"subordinate document {reference!r} ({path}) refused: {exc}"
            ) from None
        loaded[path] = Subordinate(path, root)
    return list(loaded.values())
