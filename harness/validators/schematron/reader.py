"""Turn a resolved schematron tree (see include.py) into the model the generator works from.

Reading only: whether the schema is erroneous in ISO's sense (scopes, extends) is decided on
the model by scope.py.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from harness.validators.schematron.include import (
    LABEL,
    Locator,
    effective_lang,
    load_tree,
    serialize,
)
from harness.validators.schematron.model import (
    KC_NS,
    QUERY_BINDINGS,
    SCH_NS,
    XSL_NS,
    AbstractRule,
    Assertion,
    Diagnostic,
    Extends,
    Foreign,
    Let,
    MessagePart,
    NameOf,
    Pattern,
    Phase,
    Property,
    PropertyPart,
    Rule,
    RuleItem,
    Schema,
    SchematronError,
    ValueOf,
)

_SCH = f"{{{SCH_NS}}}"
_XSL = f"{{{XSL_NS}}}"
_TEXT_MARKUP = ("emph", "dir", "span", "p")


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(_SCH):
        return ""
    return tag[len(_SCH) :]


def _mixed(element: etree._Element, keep_foreign: bool) -> list[PropertyPart]:
    """Mixed content: text, value-of and name; markup elements give their text. With
    `keep_foreign`, foreign elements other than ISO's text markup are kept whole (properties
    may carry xsl:copy-of and the like); otherwise their text counts like markup."""
    parts: list[PropertyPart] = []

    def walk(node: etree._Element) -> None:
        if node.text:
            parts.append(node.text)
        for child in node:
            if isinstance(child.tag, str):
                kind = _local(child)
                if kind == "value-of":
                    parts.append(ValueOf(child.get("select", ".")))
                elif kind == "name":
                    parts.append(NameOf(child.get("path", "")))
                elif keep_foreign and not kind:
                    parts.append(Foreign(serialize(child)))
                elif not keep_foreign or kind in _TEXT_MARKUP:
                    walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return parts


def _message(element: etree._Element) -> tuple[MessagePart, ...]:
    """Mixed content of an assert, report or diagnostic: emph, dir, span and foreign markup
    give their text."""
    return tuple(p for p in _mixed(element, keep_foreign=False) if not isinstance(p, Foreign))


def _property_content(element: etree._Element) -> tuple[PropertyPart, ...]:
    """A property's content; foreign elements (xsl:copy-of, markup) are kept whole."""
    return tuple(_mixed(element, keep_foreign=True))


class _Reader:
    def __init__(self, locator: Locator) -> None:
        self.where = locator
        self.assertions: list[Assertion] = []
        self.rules: list[Rule] = []
        self._ordinals: Counter[str] = Counter()

    def let(self, element: etree._Element) -> Let:
        name = (element.get("name") or "").strip()
        if not name:
            raise SchematronError(f"{self.where(element)}: let without a name")
        value = element.get("value")
        if value is None:
            # ISO: without @value the element content is the value, as data (never executed).
            inner = "".join(serialize(c) + escape(c.tail or "") for c in element)
            return Let(name, None, escape(element.text or "") + inner, self.where(element))
        return Let(name, value, where=self.where(element))

    def items(self, rule: etree._Element, owner: str) -> tuple[RuleItem, ...]:
        out: list[RuleItem] = []
        size = sum(1 for c in rule if _local(c) in ("assert", "report"))
        first = len(self.assertions)
        for child in rule:
            kind = _local(child)
            if kind == "let":
                out.append(self.let(child))
            elif kind in ("assert", "report"):
                test = child.get("test")
                if test is None:
                    raise SchematronError(f"{self.where(child)}: {kind} without a test")
                self._ordinals[owner] += 1
                assertion = Assertion(
                    index=len(self.assertions),
                    kind=kind,
                    test=test,
                    message=_message(child),
                    id=child.get("id", ""),
                    role=child.get("role", ""),
                    flag=child.get("flag", ""),
                    see=child.get("see", ""),
                    diagnostics=tuple(child.get("diagnostics", "").split()),
                    owner=owner,
                    ordinal=self._ordinals[owner],
                    in_rule=len(self.assertions) - first + 1,
                    rule_size=size,
                    properties=tuple(child.get("properties", "").split()),
                    lang=effective_lang(child),
                    where=self.where(child),
                )
                self.assertions.append(assertion)
                out.append(assertion)
            elif kind == "extends":
                target = child.get("rule")
                if not target:
                    raise SchematronError(f"{self.where(child)}: extends without rule or href")
                out.append(Extends(target, self.where(child)))
        return tuple(out)

    def pattern(self, element: etree._Element, name: str) -> Pattern:
        rules: list[Rule] = []
        for child in element:
            if _local(child) != "rule" or child.get("abstract") == "true":
                continue
            context = child.get("context")
            if not context:
                raise SchematronError(f"{self.where(child)}: pattern {name}: rule without context")
            rule = Rule(
                index=len(self.rules),
                context=context,
                items=self.items(child, name),
                id=child.get("id", ""),
                role=child.get("role", ""),
                flag=child.get("flag", ""),
                pattern=name,
                where=self.where(child),
            )
            self.rules.append(rule)
            rules.append(rule)
        title = element.find(f"{_SCH}title")
        return Pattern(
            name=name,
            has_id=bool(element.get("id")),
            title=" ".join((title.text or "").split()) if title is not None else "",
            lets=tuple(self.let(c) for c in element if _local(c) == "let"),
            rules=tuple(rules),
            documents=(element.get("documents") or "").strip(),
            where=self.where(element),
        )


def _namespaces(root: etree._Element) -> dict[str, str]:
    namespaces: dict[str, str] = {}
    # Declarations on the schema element are not ISO, but common (Trifolia relies on them).
    for prefix, uri in root.nsmap.items():
        if prefix and uri not in (SCH_NS, XSL_NS, KC_NS):
            namespaces[prefix] = uri
    for ns in root.iter(f"{_SCH}ns"):
        prefix, uri = ns.get("prefix"), ns.get("uri")
        if not prefix or uri is None:
            raise SchematronError("ns needs prefix and uri")
        namespaces[prefix] = uri
    return namespaces


def _abstract_rules(
    root: etree._Element, reader: _Reader, pattern_names: dict[etree._Element, str]
) -> tuple[dict[str, AbstractRule], frozenset[str]]:
    abstract: dict[str, AbstractRule] = {}
    concrete: set[str] = set()
    # Abstract rules are found anywhere (in patterns, in ISO 2016 <rules>), in document order,
    # so their assertion numbers are stable; the first of two with one id wins.
    for rule in root.iter(f"{_SCH}rule"):
        if rule.get("abstract") != "true":
            if rule.get("id"):
                concrete.add(rule.get("id", ""))
            continue
        rule_id = rule.get("id")
        if not rule_id:
            raise SchematronError(f"{reader.where(rule)}: abstract rule without id")
        if rule_id in abstract:
            continue
        parent = rule.getparent()
        owner = pattern_names.get(parent, "") if parent is not None else ""
        abstract[rule_id] = AbstractRule(
            rule_id,
            reader.items(rule, rule_id),
            rule.get("role", ""),
            rule.get("flag", ""),
            owner,
            reader.where(rule),
        )
    return abstract, frozenset(concrete)


def read_schema(path: Path) -> Schema:
    """Read a schematron file (with its includes) into a Schema."""
    root, locator = load_tree(path)
    binding = (root.get("queryBinding") or "xslt").strip().lower()
    if binding not in QUERY_BINDINGS:
        raise SchematronError(
            f"{path}: queryBinding {binding!r} is not supported ({', '.join(QUERY_BINDINGS)})"
        )
    reader = _Reader(locator)
    elements = root.findall(f"{_SCH}pattern")
    names = {p: p.get("id") or f"pattern-{n}" for n, p in enumerate(elements, start=1)}
    abstract, concrete = _abstract_rules(root, reader, names)
    patterns = tuple(reader.pattern(p, names[p]) for p in elements)
    phases: dict[str, Phase] = {}
    for phase in root.findall(f"{_SCH}phase"):
        phase_id = phase.get("id", "").strip()
        phases[phase_id] = Phase(
            phase_id,
            tuple(a.get("pattern", "") for a in phase.findall(f"{_SCH}active")),
            tuple(reader.let(c) for c in phase.findall(f"{_SCH}let")),
            locator(phase),
        )
    diagnostics = {
        d.get("id", ""): Diagnostic(
            d.get("id", ""), _message(d), effective_lang(d), d.get(LABEL, "")
        )
        for d in root.iter(f"{_SCH}diagnostic")
    }
    properties = {
        p.get("id", ""): Property(
            p.get("id", ""),
            _property_content(p),
            p.get("role", ""),
            p.get("scheme", ""),
            p.get(LABEL, ""),
        )
        for p in root.iter(f"{_SCH}property")
    }
    top_xslt = [c for c in root if isinstance(c.tag, str) and c.tag.startswith(_XSL)]
    title = root.find(f"{_SCH}title")
    return Schema(
        base_uri=path.resolve().as_uri(),
        query_binding=binding,
        namespaces=_namespaces(root),
        lets=tuple(reader.let(c) for c in root.findall(f"{_SCH}let")),
        patterns=patterns,
        phases=phases,
        abstract_rules=abstract,
        diagnostics=diagnostics,
        default_phase=root.get("defaultPhase", ""),
        title=" ".join((title.text or "").split()) if title is not None else "",
        foreign_xslt=tuple(serialize(c) for c in top_xslt),
        assertions=reader.assertions,
        rules=reader.rules,
        files=tuple(str(f) for f in locator.files),
        properties=properties,
        foreign_globals=frozenset(
            c.get("name", "")
            for c in top_xslt
            if c.tag in (f"{_XSL}variable", f"{_XSL}param") and c.get("name")
        ),
        concrete_rule_ids=concrete,
        schema_version=root.get("schemaVersion", ""),
        lang=effective_lang(root),
    )
