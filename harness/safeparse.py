"""The one place where XML and JSON from outside are parsed.

No DTDs, no external entities, no network, bounded size and nesting depth. Everything
kcert reads from a SUT, a protocol file or a fixture goes through here, so hostile
input becomes a clear `UnsafePayload` / `MalformedPayload` instead of a crash or hang.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

MAX_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 256

_DTD_MARKERS = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# libxml2's own nesting cap without XML_PARSE_HUGE (huge_tree stays off: it lifts every limit).
_LIBXML_MAX_DEPTH = 256
_LIBXML_DEPTH = re.compile(r"Excessive depth in document", re.IGNORECASE)


class PayloadError(ValueError):
    """Input could not be read; `line` points into it when known."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


class UnsafePayload(PayloadError):
    """Input was refused for safety: a DTD or entity, too large, or nested too deep."""


class MalformedPayload(PayloadError):
    """Input is not well-formed XML or JSON."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = MAX_BYTES
    max_depth: int = MAX_DEPTH


DEFAULT_LIMITS = Limits()


def _check_size(data: bytes, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise UnsafePayload(f"payload of {len(data)} bytes exceeds the cap of {limits.max_bytes}")


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def parse_xml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse XML bytes safely; DTDs and entity declarations are refused outright."""
    _check_size(data, limits)
    marker = _DTD_MARKERS.search(data)
    if marker:
        raise UnsafePayload(
            "DTD or entity declaration refused (no DOCTYPE/ENTITY allowed)",
            _line_of(data, marker.start()),
        )
    parser_kwargs: dict[str, Any] = {
        "resolve_entities": False,
        "no_network": True,
        "load_dtd": False,
        "dtd_validation": False,
        "huge_tree": False,
        "remove_comments": False,
    }
    depth = 0
    root: etree._Element | None = None
    try:
        for event, element in etree.iterparse(
            io.BytesIO(data), events=("start", "end"), **parser_kwargs
        ):
            if event == "start":
                depth += 1
                if depth > limits.max_depth:
                    raise UnsafePayload(
                        f"XML nested deeper than {limits.max_depth} elements",
                        element.sourceline,
                    )
                if root is None:
                    root = element
            else:
                depth -= 1
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        if _LIBXML_DEPTH.search(exc.msg or ""):
            # libxml2 >= 2.14 (lxml 6) stops at its own nesting cap of 256 before our counter
            # sees element 257: the same refusal, so it must read as unsafe, not as malformed.
            raise UnsafePayload(
                f"XML nested deeper than {min(limits.max_depth, _LIBXML_MAX_DEPTH)} elements",
                line,
            ) from None
        raise MalformedPayload(f"not well-formed XML: {exc.msg}", line) from None
    if root is None:
        raise MalformedPayload("empty XML document")
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        # The byte scan above misses DTDs in other encodings (UTF-16): the parsed tree does not.
        raise UnsafePayload("DTD or entity declaration refused (no DOCTYPE/ENTITY allowed)")
    return root


def safe_xml_bytes(data: bytes, limits: Limits = DEFAULT_LIMITS) -> bytes:
    """XML that passed parse_xml, re-serialised as UTF-8 without any DTD.

    Libraries that parse XML themselves (fhir.resources) get these bytes, never the raw input,
    so their own parser settings cannot expand entities.
    """
    root = parse_xml(data, limits)
    return bytes(etree.tostring(root, encoding="utf-8", xml_declaration=True))


def _json_depth_check(value: Any, limits: Limits) -> None:
    """Nesting depth of parsed JSON, walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limits.max_depth:
            raise UnsafePayload(f"JSON nested deeper than {limits.max_depth} levels")
        if isinstance(node, dict):
            stack.extend(
                (child, depth + 1) for child in node.values() if isinstance(child, (dict, list))
            )
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node if isinstance(child, (dict, list)))


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise MalformedPayload(f"duplicate JSON property {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise MalformedPayload(f"JSON constant {name} is not allowed")


def parse_json(data: bytes | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse JSON safely: size and depth capped, duplicate keys and NaN refused."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    _check_size(raw, limits)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    try:
        # The C scanner guards its recursion: hostile nesting ends in RecursionError, fast.
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise MalformedPayload(f"not valid JSON: {exc.msg}", exc.lineno) from None
    except ValueError as exc:  # e.g. an integer longer than Python's digit limit
        raise MalformedPayload(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise UnsafePayload(f"JSON nested deeper than {limits.max_depth} levels") from None
    _json_depth_check(value, limits)
    return value


# Byte-order marks, longest first (the UTF-32-LE mark starts with the UTF-16-LE one).
_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
# An XML declaration without a mark, in the encodings XML 1.0 appendix F lets a reader detect.
_XML_DECLARATIONS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
_SNIFF_BYTES = 4096  # leading whitespace beyond this is not worth looking past


def sniff_format(data: bytes, content_type: str = "") -> str:
    """Tell "json" or "xml" from the content type, else from the first character.

    A byte-order mark (UTF-8, UTF-16, UTF-32) is skipped, and UTF-16/UTF-32 XML that starts
    with its declaration is recognised; the parsers then decide whether the encoding is right.
    """
    ct = content_type.lower()
    if "json" in ct:
        return "json"
    if "xml" in ct:
        return "xml"
    encoding = "ascii"
    head = data[:_SNIFF_BYTES]
    for mark, name in _BOMS:
        if head.startswith(mark):
            encoding, head = name, head[len(mark) :]
            break
    else:
        for start, _ in _XML_DECLARATIONS:
            if head.startswith(start):
                return "xml"
    text = head.decode(encoding, errors="ignore") if encoding != "ascii" else ""
    first = text.lstrip(" \t\r\n")[:1] if text else head.lstrip(b" \t\r\n")[:1].decode("latin-1")
    if first in ("{", "["):
        return "json"
    if first == "<":
        return "xml"
    return "unknown"
