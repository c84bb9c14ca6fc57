"""Turn a resolved schematron tree (see include.py) into the model the generator works from."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lxml import etree

from harness.validators.schematron.include import load_tree
from harness.validators.schematron.model import (
    QUERY_BINDINGS,
    SCH_NS,
    XSL_NS,
    AbstractRule,
    Assertion,
    Diagnostic,
    Extends,
    Let,
    MessagePart,
    NameOf,
    Pattern,
    Phase,
    Rule,
    RuleItem,
    Schema,
    SchematronError,
    ValueOf,
)

_SCH = f"{{{SCH_NS}}}"
_XSL = f"{{{XSL_NS}}}"


def _local(element: etree._Element) -> str:
    tag = element.tag
    if not isinstance(tag, str) or not tag.startswith(_SCH):
        return ""
    return tag[len(_SCH) :]


def _message(element: etree._Element) -> tuple[MessagePart, ...]:
    """Mixed content of an assert, report or diagnostic: text, value-of, name, and markup."""
    parts: list[MessagePart] = []

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
                else:  # emph, dir, span and foreign markup: keep their text
                    walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(element)
    return tuple(parts)


def _let(element: etree._Element) -> Let:
    name = element.get("name")
    if not name:
        raise SchematronError("let without a name")
    value = element.get("value")
    if value is None:
        inner = "".join(
            etree.tostring(child, encoding="unicode", with_tail=True) for child in element
        )
        return Let(name, None, (element.text or "") + inner)
    return Let(name, value)


class _Reader:
    def __init__(self) -> None:
        self.assertions: list[Assertion] = []
        self.rules: list[Rule] = []
        self._ordinals: Counter[str] = Counter()

    def items(self, rule: etree._Element, owner: str) -> tuple[RuleItem, ...]:
        out: list[RuleItem] = []
        size = sum(1 for c in rule if _local(c) in ("assert", "report"))
        first = len(self.assertions)
        for child in rule:
            kind = _local(child)
            if kind == "let":
                out.append(_let(child))
            elif kind in ("assert", "report"):
                test = child.get("test")
                if test is None:
                    raise SchematronError(f"{kind} without a test in {owner}")
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
                )
                self.assertions.append(assertion)
                out.append(assertion)
            elif kind == "extends":
                target = child.get("rule")
                if target:
                    out.append(Extends(target))
        return tuple(out)

    def pattern(self, element: etree._Element, number: int) -> Pattern:
        name = element.get("id") or f"pattern-{number}"
        rules: list[Rule] = []
        for child in element:
            if _local(child) != "rule" or child.get("abstract") == "true":
                continue
            context = child.get("context")
            if not context:
                raise SchematronError(f"pattern {name}: a rule without context")
            rule = Rule(
                index=len(self.rules),
                context=context,
                items=self.items(child, name),
                id=child.get("id", ""),
                role=child.get("role", ""),
                flag=child.get("flag", ""),
                pattern=name,
            )
            self.rules.append(rule)
            rules.append(rule)
        title = element.find(f"{_SCH}title")
        return Pattern(
            name=name,
            has_id=bool(element.get("id")),
            title=" ".join((title.text or "").split()) if title is not None else "",
            lets=tuple(_let(c) for c in element if _local(c) == "let"),
            rules=tuple(rules),
        )


def _namespaces(root: etree._Element) -> dict[str, str]:
    namespaces: dict[str, str] = {}
    # Declarations on the schema element are not ISO, but common (Trifolia relies on them).
    for prefix, uri in root.nsmap.items():
        if prefix and uri not in (SCH_NS, XSL_NS):
            namespaces[prefix] = uri
    for ns in root.iter(f"{_SCH}ns"):
        prefix, uri = ns.get("prefix"), ns.get("uri")
        if not prefix or uri is None:
            raise SchematronError("ns needs prefix and uri")
        namespaces[prefix] = uri
    return namespaces


def read_schema(path: Path) -> Schema:
    """Read a schematron file (with its includes) into a Schema."""
    root, files = load_tree(path)
    binding = (root.get("queryBinding") or "xslt").strip().lower()
    if binding not in QUERY_BINDINGS:
        raise SchematronError(
            f"{path}: queryBinding {binding!r} is not supported ({', '.join(QUERY_BINDINGS)})"
        )
    reader = _Reader()
    abstract: dict[str, AbstractRule] = {}
    # Abstract rules are found anywhere (in patterns, in ISO 2016 <rules>), in document order,
    # so their assertion numbers are stable; the first of two with one id wins.
    for rule in root.iter(f"{_SCH}rule"):
        if rule.get("abstract") != "true":
            continue
        rule_id = rule.get("id")
        if not rule_id:
            raise SchematronError(f"{path}: abstract rule without id")
        if rule_id not in abstract:
            abstract[rule_id] = AbstractRule(
                rule_id, reader.items(rule, rule_id), rule.get("role", ""), rule.get("flag", "")
            )
    patterns = tuple(
        reader.pattern(p, n)
        for n, p in enumerate(root.findall(f"{_SCH}pattern"), start=1)
        if p.get("abstract") != "true"
    )
    phases: dict[str, Phase] = {}
    for phase in root.findall(f"{_SCH}phase"):
        phase_id = phase.get("id", "").strip()
        phases[phase_id] = Phase(
            phase_id,
            tuple(a.get("pattern", "") for a in phase.findall(f"{_SCH}active")),
            tuple(_let(c) for c in phase.findall(f"{_SCH}let")),
        )
    diagnostics = {
        d.get("id", ""): Diagnostic(d.get("id", ""), _message(d))
        for d in root.iter(f"{_SCH}diagnostic")
    }
    for rule_ in abstract.values():
        for item in rule_.items:
            if isinstance(item, Extends) and item.rule not in abstract:
                raise SchematronError(f"rule {rule_.id} extends unknown rule {item.rule!r}")
    for concrete in reader.rules:
        for item in concrete.items:
            if isinstance(item, Extends) and item.rule not in abstract:
                raise SchematronError(
                    f"rule {concrete.id or concrete.context!r} extends unknown rule {item.rule!r}"
                )
    title = root.find(f"{_SCH}title")
    return Schema(
        base_uri=path.resolve().as_uri(),
        query_binding=binding,
        namespaces=_namespaces(root),
        lets=tuple(_let(c) for c in root.findall(f"{_SCH}let")),
        patterns=patterns,
        phases=phases,
        abstract_rules=abstract,
        diagnostics=diagnostics,
        default_phase=root.get("defaultPhase", ""),
        title=" ".join((title.text or "").split()) if title is not None else "",
        foreign_xslt=tuple(
            etree.tostring(c, encoding="unicode", with_tail=False)
            for c in root
            if isinstance(c.tag, str) and c.tag.startswith(_XSL)
        ),
        assertions=reader.assertions,
        rules=reader.rules,
        files=tuple(str(f) for f in files),
    )
