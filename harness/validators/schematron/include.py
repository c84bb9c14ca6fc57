"""Read a schematron file into one lxml tree: includes inlined, abstract patterns instantiated.

Both steps are ISO Schematron's own preprocessing; doing them on the lxml tree keeps the reader
(`reader.py`) free of file handling and lets it see a single, self-contained schema.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from lxml import etree

from harness.validators.schematron.model import SCH_NS, SchematronError

MAX_INCLUDE_DEPTH = 40
_SCH = f"{{{SCH_NS}}}"


def _parser() -> etree.XMLParser:
    # Pack files are trusted more than SUT output, but still: no network, no entity expansion.
    return etree.XMLParser(
        no_network=True,
        resolve_entities=False,
        load_dtd=False,
        remove_comments=True,
        remove_pis=True,
        huge_tree=True,  # an ART-DECOR include may exceed libxml2's default text node limit
    )


class _Includer:
    def __init__(self) -> None:
        self.files: list[Path] = []

    def read(self, path: Path, chain: tuple[Path, ...]) -> etree._Element:
        path = path.resolve()
        if path in chain:
            raise SchematronError(f"{path}: included from itself ({' -> '.join(map(str, chain))})")
        if len(chain) > MAX_INCLUDE_DEPTH:
            raise SchematronError(f"{path}: includes nested deeper than {MAX_INCLUDE_DEPTH}")
        try:
            root = etree.parse(str(path), _parser()).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise SchematronError(f"{path}: cannot read schematron: {exc}") from None
        self.files.append(path)
        self._expand(root, path, (*chain, path))
        return root

    def _target(
        self, href: str, base: Path, chain: tuple[Path, ...], current: etree._Element
    ) -> etree._Element:
        file_part, _, fragment = href.partition("#")
        # Relative to the file the include is written in, not to the main schema.
        element = self.read(base.parent / file_part, chain) if file_part else current
        if fragment:
            found = element.xpath("descendant-or-self::*[@id = $id]", id=fragment)
            if not isinstance(found, list) or not found:
                raise SchematronError(f"{base}: include {href!r}: no element with id {fragment!r}")
            hit = found[0]
            assert isinstance(hit, etree._Element)
            # A fragment of the current file is copied: the original stays where it is.
            element = copy.deepcopy(hit) if not file_part else hit
        return element

    def _expand(self, root: etree._Element, base: Path, chain: tuple[Path, ...]) -> None:
        for include in list(root.iter(f"{_SCH}include")):
            href = include.get("href")
            if not href:
                raise SchematronError(f"{base}: include without href")
            target = self._target(href, base, chain, root)
            parent = include.getparent()
            if parent is None:
                raise SchematronError(f"{base}: a schematron file may not be just an include")
            target.tail = include.tail
            parent.replace(include, target)
        # ISO 2016: <extends href="..."/> pulls in an external rule's content in place.
        for extends in list(root.iter(f"{_SCH}extends")):
            href = extends.get("href")
            if not href or extends.get("rule"):
                continue
            target = self._target(href, base, chain, root)
            parent = extends.getparent()
            assert parent is not None
            position = parent.index(extends)
            parent.remove(extends)
            for offset, child in enumerate(list(target)):
                parent.insert(position + offset, child)


def _substitute(value: str, params: dict[str, str], pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: params[m.group(1)], value)


def _instantiate(root: etree._Element) -> None:
    """Replace every `pattern is-a=...` by a copy of the abstract pattern, parameters filled in."""
    abstract = {
        p.get("id", ""): p for p in root.findall(f"{_SCH}pattern") if p.get("abstract") == "true"
    }
    for instance in root.findall(f"{_SCH}pattern[@is-a]"):
        name = instance.get("is-a", "")
        template = abstract.get(name)
        if template is None:
            raise SchematronError(f"pattern is-a={name!r}: no abstract pattern with that id")
        params = {p.get("name", ""): p.get("value", "") for p in instance.findall(f"{_SCH}param")}
        # Longest names first, and a name must end at a non-name character: $a must not eat $ab.
        names = sorted(params, key=len, reverse=True)
        regex = re.compile(
            r"\$(" + "|".join(re.escape(n) for n in names) + r")(?![\w.\-])" if names else r"(?!)"
        )
        made = copy.deepcopy(template)
        made.attrib.pop("abstract", None)
        made.attrib.pop("id", None)
        if instance.get("id"):
            made.set("id", instance.get("id", ""))
        own_titles = instance.findall(f"{_SCH}title")
        if own_titles:
            for old in made.findall(f"{_SCH}title"):
                made.remove(old)
            for position, title in enumerate(own_titles):
                made.insert(position, copy.deepcopy(title))
        for element in made.iter():
            if not isinstance(element.tag, str):
                continue
            for key, value in element.attrib.items():
                if "$" in value:
                    element.set(key, _substitute(value, params, regex))
        made.tail = instance.tail
        root.replace(instance, made)
    for template in abstract.values():
        root.remove(template)


def load_tree(path: Path) -> tuple[etree._Element, list[Path]]:
    """The schema element with every include and abstract pattern resolved, and the files read."""
    includer = _Includer()
    root = includer.read(path, ())
    if root.tag != f"{_SCH}schema":
        raise SchematronError(f"{path}: not an ISO Schematron schema (root is {root.tag})")
    _instantiate(root)
    return root, includer.files
