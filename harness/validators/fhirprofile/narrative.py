"""Hyperlinks in narrative: a local link (#name) names an anchor that exists, and an absolute one
uses a scheme a reader can follow (narrative.html: the XHTML is for people to read)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from lxml import etree

XHTML = "{http://www.w3.org/1999/xhtml}"
# Schemes a person reading the narrative can follow; urn:uuid and the like name resources, not
# pages.
LINKABLE = frozenset({"http", "https", "ftp", "mailto", "tel", "data"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
MAX_DIVS = 10_000


@lru_cache(maxsize=512)
def _tree(div: str) -> Any:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        return etree.fromstring(div.encode("utf-8"), parser)
    except (etree.XMLSyntaxError, ValueError):
        return None  # txt-1 reports XHTML that is not well-formed


def anchors(resource: Any) -> frozenset[str]:
    """Every id and name attribute in every narrative of a resource, its contained resources and
    (for a Bundle) its entries: where a local link may point."""
    found: set[str] = set()
    for div in _divs(resource):
        found |= _anchors_of(div)
    return frozenset(found)


@lru_cache(maxsize=2048)
def _anchors_of(div: str) -> frozenset[str]:
    root = _tree(div)
    if root is None:
        return frozenset()
    found = set()
    for element in root.iter():
        if isinstance(element.tag, str):
            for key in ("id", "name"):
                value = element.get(key)
                if value:
                    found.add(value)
    return frozenset(found)


def link_problems(div: str, known: frozenset[str]) -> list[str]:
    """What is wrong with the hyperlinks of one narrative div."""
    problems = []
    for href, text in _links(div):
        if href.startswith("#"):
            if href[1:] not in known:
                problems.append(
                    f"the link {href!r} ({text!r}) points to no anchor in the narrative"
                )
            continue
        scheme = _SCHEME.match(href)
        if scheme is not None and scheme.group(1).lower() not in LINKABLE:
            problems.append(
                f"the link {href!r} ({text!r}) uses the scheme {scheme.group(1)!r}, which a "
                "reader cannot follow"
            )
    return problems


@lru_cache(maxsize=2048)
def _links(div: str) -> tuple[tuple[str, str], ...]:
    """(href, link text) of every hyperlink of a div."""
    root = _tree(div)
    if root is None:
        return ()
    found = []
    for element in root.iter(XHTML + "a"):
        href = element.get("href")
        if href:
            found.append((href, " ".join("".join(element.itertext()).split())[:60]))
    return tuple(found)


def _divs(value: Any) -> Iterator[str]:
    stack = [value]
    count = 0
    while stack and count < MAX_DIVS:
        item = stack.pop()
        if isinstance(item, dict):
            div = item.get("div")
            if isinstance(div, str):
                count += 1
                yield div
            stack.extend(v for v in item.values() if isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
