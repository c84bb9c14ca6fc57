"""`path` in asserts and variables: XPath on XML bodies, a JSONPath subset on JSON bodies.

JSONPath-lite: `$`, `.name`, `['name']`, `[n]` (0-based), `[*]` and `..name` (any depth).
XPath: full XPath 1.0 through lxml with the prefix `fhir` bound to the FHIR namespace;
an element result reads as its `value` attribute (FHIR primitives), else its text.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from harness.fhir.resource import FHIR_NS
from harness.safeparse import PayloadError, parse_xml

_TOKEN = re.compile(r"\.\.([A-Za-z_][\w-]*)|\.([A-Za-z_][\w-]*|\*)|\['([^']*)'\]|\[(\d+|\*)\]")


class PathError(ValueError):
    """A path cannot be understood or applied; the text names it."""


def is_xpath(path: str) -> bool:
    return path.startswith("/") or "fhir:" in path


def json_path(data: Any, path: str) -> list[Any]:
    text = path.strip()
    if not text.startswith("$"):
        text = "$." + text
    rest = text[1:]
    nodes: list[Any] = [data]
    pos = 0
    while pos < len(rest):
        match = _TOKEN.match(rest, pos)
        if match is None:
            raise PathError(f"JSONPath {path!r}: cannot read {rest[pos:]!r}")
        deep, name, quoted, index = match.groups()
        if deep is not None:
            nodes = [v for n in nodes for v in _descend(n, deep)]
        elif name == "*" or index == "*":
            nodes = [v for n in nodes for v in _children(n)]
        elif index is not None:
            i = int(index)
            nodes = [n[i] for n in nodes if isinstance(n, list) and i < len(n)]
        else:
            key = name if name is not None else quoted
            found: list[Any] = []
            for node in nodes:
                # FHIR JSON lists repeat elements: a name applies to every item
                items = node if isinstance(node, list) else [node]
                found += [i[key] for i in items if isinstance(i, dict) and key in i]
            nodes = found
        pos = match.end()
    return [v for n in nodes for v in (n if isinstance(n, list) else [n])]


def _children(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return list(node.values())
    if isinstance(node, list):
        return list(node)
    return []


def _descend(node: Any, key: str) -> list[Any]:
    found: list[Any] = []
    if isinstance(node, dict):
        if key in node:
            found.append(node[key])
        for value in node.values():
            found += _descend(value, key)
    elif isinstance(node, list):
        for value in node:
            found += _descend(value, key)
    return found


def xpath(raw: bytes, path: str) -> list[Any]:
    try:
        root = parse_xml(raw)
    except PayloadError as exc:
        raise PathError(f"XPath {path!r}: the body is not readable XML ({exc})") from None
    try:
        result = root.xpath(path, namespaces={"fhir": FHIR_NS, "f": FHIR_NS})
    except etree.XPathError as exc:
        raise PathError(f"XPath {path!r}: {exc}") from None
    items = result if isinstance(result, list) else [result]
    out: list[Any] = []
    for item in items:
        if isinstance(item, etree._Element):
            value = item.get("value")
            out.append(value if value is not None else (item.text or ""))
        else:
            out.append(str(item) if not isinstance(item, bool | float) else item)
    return out
