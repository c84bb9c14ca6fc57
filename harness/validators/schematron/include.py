"""Read a schematron file into one lxml tree: includes inlined, abstract patterns instantiated.

Both steps are ISO Schematron's own preprocessing; doing them on the lxml tree keeps the reader
(`reader.py`) free of file handling and lets it see a single, self-contained schema. Every
Schematron element is stamped with the file it came from, so errors can say file:line after
the files have been merged, and included elements keep the language of their own file.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

from lxml import etree

from harness.validators.schematron.model import KC_NS, SCH_NS, SchematronError

MAX_INCLUDE_DEPTH = 40
MAX_FILES = 2000  # ART-DECOR packs read ~140; a bound against include fan-out
_SCH = f"{{{SCH_NS}}}"
ORIGIN = f"{{{KC_NS}}}file"  # index into Locator.files
LABEL = f"{{{KC_NS}}}label"  # the id as written, on diagnostics copied for a pattern instance
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


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


class Locator:
    """file:line of a merged element; files are named relative to the main schema's folder."""

    def __init__(self, main: Path) -> None:
        self.folder = main.resolve().parent
        self.files: list[Path] = []

    def add(self, path: Path) -> int:
        self.files.append(path)
        return len(self.files) - 1

    def name(self, path: Path) -> str:
        try:
            return path.relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)

    def __call__(self, element: etree._Element) -> str:
        origin = element.get(ORIGIN)
        file = self.name(self.files[int(origin)]) if origin is not None else "?"
        return f"{file}:{element.sourceline or '?'}"


def effective_lang(element: etree._Element) -> str:
    """The xml:lang in force at an element (its own or the nearest ancestor's)."""
    node: etree._Element | None = element
    while node is not None:
        lang = node.get(XML_LANG)
        if lang is not None:
            return str(lang)
        node = node.getparent()
    return ""


def serialize(element: etree._Element) -> str:
    """An element as XML text (no tail), without kcert's own bookkeeping attributes."""
    clean = copy.deepcopy(element)
    etree.strip_attributes(clean, ORIGIN, LABEL)
    etree.cleanup_namespaces(clean)
    return str(etree.tostring(clean, encoding="unicode", with_tail=False))


class _Includer:
    def __init__(self, locator: Locator) -> None:
        self.locator = locator

    def read(self, path: Path, chain: tuple[Path, ...]) -> etree._Element:
        path = path.resolve()
        if path in chain:
            raise SchematronError(f"{path}: included from itself ({' -> '.join(map(str, chain))})")
        if len(chain) > MAX_INCLUDE_DEPTH:
            raise SchematronError(f"{path}: includes nested deeper than {MAX_INCLUDE_DEPTH}")
        if len(self.locator.files) >= MAX_FILES:
            raise SchematronError(f"{path}: more than {MAX_FILES} schematron files included")
        try:
            root = etree.parse(str(path), _parser()).getroot()
        except (OSError, etree.XMLSyntaxError) as exc:
            raise SchematronError(f"{path}: cannot read schematron: {exc}") from None
        number = str(self.locator.add(path))
        for element in root.iter(f"{_SCH}*"):
            element.set(ORIGIN, number)
        self._expand(root, path, (*chain, path))
        return root

    def _target(
        self,
        href: str,
        base: Path,
        chain: tuple[Path, ...],
        current: etree._Element,
        source: etree._Element,
    ) -> etree._Element:
        file_part, _, fragment = href.partition("#")
        # Relative to the file the include is written in, not to the main schema.
        try:
            element = self.read(base.parent / file_part, chain) if file_part else current
        except SchematronError as exc:
            raise SchematronError(f"{self.locator(source)}: include {href!r}: {exc}") from None
        if fragment:
            found = element.xpath("descendant-or-self::*[@id = $id]", id=fragment)
            if not isinstance(found, list) or not found:
                raise SchematronError(
                    f"{self.locator(source)}: include {href!r}: no element with id {fragment!r}"
                )
            hit = found[0]
            assert isinstance(hit, etree._Element)
            lang = effective_lang(hit)
            # A fragment of the current file is copied: the original stays where it is.
            element = copy.deepcopy(hit) if not file_part else hit
            if lang and element.get(XML_LANG) is None:
                element.set(XML_LANG, lang)  # language fixup, as XInclude does
        return element

    def _expand(self, root: etree._Element, base: Path, chain: tuple[Path, ...]) -> None:
        for include in list(root.iter(f"{_SCH}include")):
            href = include.get("href")
            if not href:
                raise SchematronError(f"{self.locator(include)}: include without href")
            target = self._target(href, base, chain, root, include)
            parent = include.getparent()
            if parent is None:
                raise SchematronError(
                    f"{self.locator(include)}: a schematron file may not be just an include"
                )
            target.tail = include.tail
            parent.replace(include, target)
        # ISO 2016: <extends href="..."/> pulls in an external rule's content in place.
        for extends in list(root.iter(f"{_SCH}extends")):
            href = extends.get("href")
            if not href or extends.get("rule"):
                continue
            target = self._target(href, base, chain, root, extends)
            lang = effective_lang(target)
            parent = extends.getparent()
            assert parent is not None
            position = parent.index(extends)
            parent.remove(extends)
            for offset, child in enumerate(list(target)):
                if lang and isinstance(child.tag, str) and child.get(XML_LANG) is None:
                    child.set(XML_LANG, lang)
                parent.insert(position + offset, child)


def _substitute(value: str, params: dict[str, str], pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: params[m.group(1)], value)


def _substitute_tree(tree: etree._Element, params: dict[str, str], regex: re.Pattern[str]) -> bool:
    changed = False
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        for key, value in element.attrib.items():
            if "$" in value:
                new = _substitute(value, params, regex)
                if new != value:
                    element.set(key, new)
                    changed = True
    return changed


class _Instantiator:
    """Abstract patterns -> concrete copies; diagnostics and properties they use are copied too."""

    # A diagnostic or property is shared by id, but the parameters of the pattern that refers
    # to it must be filled in (the values differ per instance), so a changed one gets its own
    # copy under a new id; LABEL keeps the id as written for reports (ISO 6.3).

    def __init__(self, root: etree._Element) -> None:
        self.root = root
        self.shared = {
            attribute: {e.get("id", ""): e for e in root.iter(f"{_SCH}{tag}")}
            for attribute, tag in (("diagnostics", "diagnostic"), ("properties", "property"))
        }
        self.copies = 0

    def references(
        self, made: etree._Element, params: dict[str, str], regex: re.Pattern[str]
    ) -> None:
        for assertion in made.iter(f"{_SCH}assert", f"{_SCH}report"):
            for attribute, known in self.shared.items():
                tokens = assertion.get(attribute, "").split()
                if not tokens:
                    continue
                renamed = []
                for token in tokens:
                    source = known.get(token)
                    if source is None:
                        renamed.append(token)
                        continue
                    made_copy = copy.deepcopy(source)
                    made_copy.tail = None
                    if not _substitute_tree(made_copy, params, regex):
                        renamed.append(token)
                        continue
                    self.copies += 1
                    new_id = f"{token}.kcx{self.copies}"
                    made_copy.set("id", new_id)
                    made_copy.set(LABEL, source.get(LABEL, token))
                    source.addnext(made_copy)
                    renamed.append(new_id)
                assertion.set(attribute, " ".join(renamed))

    def run(self, locator: Locator) -> None:
        root = self.root
        abstract = {
            p.get("id", ""): p
            for p in root.findall(f"{_SCH}pattern")
            if p.get("abstract") == "true"
        }
        for instance in root.findall(f"{_SCH}pattern[@is-a]"):
            name = instance.get("is-a", "")
            template = abstract.get(name)
            if template is None:
                raise SchematronError(
                    f"{locator(instance)}: pattern is-a={name!r}: no abstract pattern with that id"
                )
            params = {
                p.get("name", ""): p.get("value", "") for p in instance.findall(f"{_SCH}param")
            }
            # Longest names first, and a name must end at a non-name character: $a must not
            # eat $ab.
            names = sorted(params, key=len, reverse=True)
            regex = re.compile(
                r"\$(" + "|".join(re.escape(n) for n in names) + r")(?![\w.\-])"
                if names
                else r"(?!)"
            )
            made = copy.deepcopy(template)
            made.attrib.pop("abstract", None)
            made.attrib.pop("id", None)
            if instance.get("id"):
                made.set("id", instance.get("id", ""))
            if instance.get("documents"):
                made.set("documents", instance.get("documents", ""))
            own_titles = instance.findall(f"{_SCH}title")
            if own_titles:
                for old in made.findall(f"{_SCH}title"):
                    made.remove(old)
                for position, title in enumerate(own_titles):
                    made.insert(position, copy.deepcopy(title))
            _substitute_tree(made, params, regex)
            if names:
                self.references(made, params, regex)
            made.tail = instance.tail
            root.replace(instance, made)
        for template in abstract.values():
            root.remove(template)


def load_tree(path: Path) -> tuple[etree._Element, Locator]:
    """The schema element with every include and abstract pattern resolved, and where from."""
    locator = Locator(path)
    root = _Includer(locator).read(path, ())
    if root.tag != f"{_SCH}schema":
        raise SchematronError(f"{path}: not an ISO Schematron schema (root is {root.tag})")
    _Instantiator(root).run(locator)
    return root, locator
