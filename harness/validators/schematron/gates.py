"""Gates: elements a rule context cannot match without, so a document lacking one skips the rule.

A rule context such as
`*[hl7:observation[hl7:templateId[@root = '2.16.840.1.113883.10.12.303']]]/hl7:observation`
can only match when the document holds an hl7:observation and an hl7:templateId whose @root is
that string. ART-DECOR schematrons are mostly such rules, for templates a given document never
uses (the CPD schematron carries the generic CDA entry templates, ~70 % of its stylesheet), and
Saxon's compile time and memory grow with the stylesheet. So the compiler drops, per document,
the rule templates whose gates the document lacks (compiler.py), and compiles that smaller
stylesheet instead of the whole one.

The analysis is deliberately conservative: a gate is derived only where it is a necessary
condition — a name-tested element step of the context path itself, or a conjunct of a predicate
that is a plain path (an existence test) or an `@attribute = 'literal'` comparison. Anything
else (functions, variables, `or`, `not()`, numbers, unions that do not all agree) yields no
gate, so the rule is always kept. Every axis stays inside the document, so a path that finds an
element proves that the document holds one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, unquote

from lxml import etree

# On a generated rule template: its gates (an extension attribute, which XSLT processors ignore).
GATES_ATTRIBUTE = "kcx:gates"

# (namespace URI, local name, ((attribute, value), ...)): "some element so named has these
# attribute values".
Gate = tuple[str, str, tuple[tuple[str, str], ...]]

_NAME = r"[A-Za-z_][\w.\-]*"
_AXIS = (
    r"(?:(?:child|descendant|descendant-or-self|self|parent|ancestor|ancestor-or-self|"
    r"following-sibling|preceding-sibling|following|preceding)\s*::\s*)"
)
_ELEMENT = re.compile(rf"{_AXIS}?({_NAME}):({_NAME})")
_STEP = re.compile(
    rf"{_AXIS}?(?:{_NAME}:{_NAME}|{_NAME}:\*|\*:{_NAME}|\*|{_NAME})|\.\.?"
    rf"|@(?:{_NAME}:)?(?:{_NAME}|\*)|attribute\s*::\s*(?:{_NAME}:)?(?:{_NAME}|\*)"
)
_LITERAL = r"'[^']*'|\"[^\"]*\""
# Operators that bind looser than `and` (or a sequence): splitting at `and` would be wrong.
_LOOSER = re.compile(r"\sor\s|,|\b(?:then|else|return|satisfies)\b|^\s*(?:some|every|for|let|if)\b")
_PATH_ATTR_EQUALS = re.compile(rf"(.+?)\s*/\s*@({_NAME})\s*=\s*({_LITERAL})", re.DOTALL)
_ATTR_EQUALS = re.compile(rf"@({_NAME})\s*=\s*({_LITERAL})|({_LITERAL})\s*=\s*@({_NAME})")


def _skeleton(expr: str) -> str | None:
    """`expr` with string literals and bracketed text blanked (same length; brackets kept).

    What stays visible is the top level only; None when brackets or quotes do not pair.
    """
    out: list[str] = []
    depth = 0
    quote: str | None = None
    for char in expr:
        if quote is not None:
            out.append("_")
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
            out.append("_")
        elif char in "([":
            out.append(char if depth == 0 else "_")
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                return None
            out.append(char if depth == 0 else "_")
        else:
            out.append(char if depth == 0 else "_")
    if depth != 0 or quote is not None:
        return None
    return "".join(out)


def _split(expr: str, separator: str) -> list[str] | None:
    """`expr` cut at top-level matches of the regular expression `separator`."""
    skeleton = _skeleton(expr)
    if skeleton is None:
        return None
    parts: list[str] = []
    start = 0
    for match in re.finditer(separator, skeleton):
        parts.append(expr[start : match.start()])
        start = match.end()
    parts.append(expr[start:])
    return parts


def _unwrapped(expr: str) -> str:
    """Without parentheses that enclose the whole expression."""
    text = expr.strip()
    while text.startswith("(") and text.endswith(")"):
        skeleton = _skeleton(text)
        if skeleton is None or skeleton.find(")") != len(text) - 1:
            break
        text = text[1:-1].strip()
    return text


def _step_parts(step: str) -> tuple[str, list[str]] | None:
    """A step's head and its predicates; None when it is not `head[p]...`."""
    text = step.strip()
    skeleton = _skeleton(text)
    if skeleton is None:
        return None
    cut = skeleton.find("[")
    if cut < 0:
        return text, []
    head = text[:cut].strip()
    predicates: list[str] = []
    index = cut
    while index < len(text):
        if skeleton[index] != "[":
            return None
        close = skeleton.find("]", index)
        predicates.append(text[index + 1 : close])
        index = close + 1
        while index < len(text) and text[index].isspace():
            index += 1
    return head, predicates


def _path_gates(path: str, namespaces: Mapping[str, str]) -> set[Gate] | None:
    """Gates of a plain location path (no functions or variables); None if it is not one."""
    steps = _split(path.strip(), "/")
    if steps is None:
        return None
    gates: set[Gate] = set()
    for step in steps:
        if not step.strip():
            continue  # a leading "/" or the empty step of "//"
        parts = _step_parts(step)
        if parts is None:
            return None
        head, predicates = parts
        if not _STEP.fullmatch(head):
            return None
        attrs: set[tuple[str, str]] = set()
        for predicate in predicates:
            found_attrs, found = _predicate(predicate, namespaces)
            attrs |= found_attrs
            gates |= found
        element = _ELEMENT.fullmatch(head)
        if element is not None and element.group(1) in namespaces:
            gates.add((namespaces[element.group(1)], element.group(2), tuple(sorted(attrs))))
    return gates


def _predicate(expr: str, namespaces: Mapping[str, str]) -> tuple[set[tuple[str, str]], set[Gate]]:
    """(attribute values the step's own element must have, gates) a predicate implies."""
    attrs: set[tuple[str, str]] = set()
    gates: set[Gate] = set()
    text = _unwrapped(expr)
    skeleton = _skeleton(text)
    if skeleton is None or _LOOSER.search(skeleton):
        return attrs, gates  # an operator binding looser than `and`: no conjunct is certain
    for conjunct in _split(text, r"\sand\s") or []:
        text = _unwrapped(conjunct)
        equals = _ATTR_EQUALS.fullmatch(text)
        if equals is not None:
            name = equals.group(1) or equals.group(4)
            literal = equals.group(2) or equals.group(3)
            attrs.add((name, literal[1:-1]))
            continue
        compared = _PATH_ATTR_EQUALS.fullmatch(text)
        if compared is not None:
            # `p/@a = 'v'` holds exactly when `p[@a = 'v']` finds an element
            text = f"{compared.group(1)}[@{compared.group(2)} = {compared.group(3)}]"
        found = _path_gates(text, namespaces)
        if found is not None:
            gates |= found
    return attrs, gates


def context_gates(context: str, namespaces: Mapping[str, str]) -> frozenset[Gate]:
    """What a document must hold for `context` (an XSLT match pattern) to match anything."""
    branches = _split(context, r"\|")
    if branches is None:
        return frozenset()
    common: set[Gate] | None = None
    for branch in branches:
        found = _path_gates(branch, namespaces) or set()
        common = found if common is None else common & found
    return frozenset(common or ())


def encode(gates: Iterable[Gate]) -> str:
    """Gates as attribute text needing no XML escapes (Saxon's parser counts every entity).

    A gate is "ns local attr=value ..." with each part percent-encoded, joined by "|"; gates
    are separated by spaces.
    """
    out = []
    for ns, local, attrs in sorted(gates):
        parts = [ns, local, *(f"{_q(k)}={_q(v)}" for k, v in attrs)]
        out.append("|".join(_q(p) if i < 2 else p for i, p in enumerate(parts)))
    return " ".join(out)


@functools.lru_cache(maxsize=4096)  # the rules of one template share their gates' text
def decode(text: str) -> frozenset[Gate]:
    found: set[Gate] = set()
    for item in text.split():
        ns, local, *pairs = item.split("|")
        attrs = tuple(tuple(unquote(x) for x in pair.split("=", 1)) for pair in pairs)
        found.add((unquote(ns), unquote(local), tuple((k, v) for k, v in attrs)))
    return frozenset(found)


def _q(text: str) -> str:
    return quote(text, safe="")


def unmet(root: etree._Element, gates: Iterable[Gate]) -> frozenset[Gate]:
    """The gates this document (its element tree, from the root) does not satisfy."""
    wanted: dict[str, list[Gate]] = {}
    for gate in gates:
        wanted.setdefault(f"{{{gate[0]}}}{gate[1]}", []).append(gate)
    met: set[Gate] = set()
    for element in root.getroottree().iter(*wanted):
        for gate in wanted[element.tag]:
            if gate not in met and all(element.get(k) == v for k, v in gate[2]):
                met.add(gate)
    return frozenset(g for group in wanted.values() for g in group if g not in met)


__all__ = ["GATES_ATTRIBUTE", "Gate", "context_gates", "decode", "encode", "unmet"]
