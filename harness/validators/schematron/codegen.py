"""Schematron model -> XSLT 3 text, built for fast compile and fast runs on large rule sets.

Shape of the output:
- every schema and pattern variable (and those of the active phase, which replace same-named
  ones) is a global xsl:variable; a let with element content is data: its content is parsed
  once into nodes (parse-xml-fragment), never run as XSLT;
- one mode per active pattern with concrete rules; each concrete rule is a template whose
  priority falls with its position, so a node is handled by the first matching rule of a
  pattern only (Schematron semantics); unmatched nodes are walked through by one fallback
  template that visits attributes and text only when a rule of the pattern can match them;
  a pattern with @documents walks the subordinate documents kcert loaded for it instead;
- each abstract rule becomes ONE named template, called from every rule that extends it
  (inlining, as the ISO skeleton does, multiplies the code ~8x on ART-DECOR schematrons);
- what a fired rule and an assertion write is the emitter's business: compact records (one
  tab-separated line per failure, static text stays in Python) or SVRL (svrl.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from xml.sax.saxutils import escape

from harness.validators.schematron.gates import GATES_ATTRIBUTE, context_gates, encode
from harness.validators.schematron.hoist import PARAM_PREFIX, Hoister
from harness.validators.schematron.model import (
    KC_NS,
    AbstractRule,
    Assertion,
    Extends,
    Let,
    MessagePart,
    NameOf,
    Pattern,
    Rule,
    RuleItem,
    Schema,
    SchematronError,
    ValueOf,
    is_static,
)
from harness.validators.schematron.scope import STRICT, Scope, active_patterns, check_schema
from harness.validators.schematron.xpathtext import (
    last_step_predicates,
    may_match_attributes,
    may_match_other_nodes,
    quote,
)

KC = "kcx"  # prefix of every generated name, so none can clash with the schema's own
XS_STRING = "Q{http://www.w3.org/2001/XMLSchema}string"
DOCUMENTS_PREFIX = "kcx_d"  # stylesheet parameter holding a pattern's subordinate documents
_VERSIONS = {"xslt": "1.0", "xslt2": "2.0", "xslt3": "3.0"}

# Node paths are computed only for failures: element names as written in the document (the
# CDA default namespace gives bare names) with positions among same-named siblings. A node of
# a subordinate document gets that document's URI in front, separated by a space.
_HELPERS = f"""
<xsl:variable name="{KC}:primary" select="/"/>
<xsl:function name="{KC}:path" as="{XS_STRING}">
  <xsl:param name="node" as="node()"/>
  <xsl:variable name="steps" select="if ($node instance of document-node()) then '/' else
    string-join(for $n in $node/ancestor-or-self::node()[not(self::document-node())]
    return {KC}:step($n), '')"/>
  <xsl:sequence select="if (root($node) is ${KC}:primary) then $steps
    else concat(string(base-uri(root($node))), ' ', $steps)"/>
</xsl:function>
<xsl:function name="{KC}:step" as="{XS_STRING}">
  <xsl:param name="n" as="node()"/>
  <xsl:choose>
    <xsl:when test="$n instance of element()">
      <xsl:sequence select="concat('/', name($n), '[',
        count($n/preceding-sibling::*[node-name() eq node-name($n)]) + 1, ']')"/>
    </xsl:when>
    <xsl:when test="$n instance of attribute()">
      <xsl:sequence select="concat('/@', name($n))"/>
    </xsl:when>
    <xsl:when test="$n instance of text()">
      <xsl:sequence select="concat('/text()[', count($n/preceding-sibling::text()) + 1, ']')"/>
    </xsl:when>
    <xsl:when test="$n instance of comment()">
      <xsl:sequence select="concat('/comment()[', count($n/preceding-sibling::comment()) + 1,
        ']')"/>
    </xsl:when>
    <xsl:otherwise>
      <xsl:sequence select="concat('/processing-instruction()[',
        count($n/preceding-sibling::processing-instruction()) + 1, ']')"/>
    </xsl:otherwise>
  </xsl:choose>
</xsl:function>
"""


def attr(value: str) -> str:
    """An attribute value, quoted; newlines and tabs kept as character references."""
    text = escape(value, {'"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})
    return f'"{text}"'


class Emitter(Protocol):
    """What the stylesheet writes: the output method, the root template, rule and assertion."""

    method: str
    namespaces: str  # extra namespace declarations for the stylesheet element

    def root(self, gen: Generator, active: list[tuple[int, Pattern]]) -> None: ...

    def fired(self, gen: Generator, rule: Rule) -> None: ...

    def assertion(self, gen: Generator, item: Assertion, rule_ref: str) -> None: ...


class CompactEmitter:
    """One tab-separated record per failure: assertion, rule, node path, dynamic texts."""

    method = "text"
    namespaces = ""

    def root(self, gen: Generator, active: list[tuple[int, Pattern]]) -> None:
        gen.out.append('<xsl:template match="/">')
        for number, pattern in active:
            if pattern.rules:
                gen.out.append(
                    f'<xsl:apply-templates select="{gen.start(number, pattern)}" '
                    f'mode="{KC}:p{number}"/>'
                )
        gen.out.append("</xsl:template>")

    def fired(self, gen: Generator, rule: Rule) -> None:
        return None

    def assertion(self, gen: Generator, item: Assertion, rule_ref: str) -> None:
        fields = [quote(f"{item.index}\t"), rule_ref, quote("\t"), f"{KC}:path(.)", quote("\t")]
        if not is_static(item.message):
            fields.append(gen.message_expr(item.message))
        for ref in item.diagnostics:
            fields.append(quote("\t"))
            diagnostic = gen.schema.diagnostics.get(ref)
            if diagnostic is not None and not is_static(diagnostic.message):
                fields.append(gen.message_expr(diagnostic.message))
        fields.append(quote("\n"))
        record = "concat(" + ", ".join(fields) + ")"
        gen.out.append(
            f"<xsl:if test={attr(gen.test(item))}><xsl:value-of select={attr(record)}/></xsl:if>"
        )


class Generator:
    def __init__(self, schema: Schema, scope: Scope, emitter: Emitter) -> None:
        self.schema = schema
        self.scope = scope
        self.emitter = emitter
        self.version = _VERSIONS[schema.query_binding]
        self.out: list[str] = []
        self.data: list[str] = []  # let element content, one global per let
        self.numbers = {rule_id: n for n, rule_id in enumerate(schema.abstract_rules)}
        self.hoister = Hoister()
        self.x = self.hoister.rewrite
        self.ns = {p: u for p, u in schema.namespaces.items() if p != KC}

    # -- expressions --------------------------------------------------------------------------

    def value_expr(self, select: str) -> str:
        if self.version == "1.0":
            # Backwards-compatible mode: string() of a sequence is its first item's.
            return f"string({self.x(select)})"
        return f"string-join(for ${KC}:v in ({self.x(select)}) return string(${KC}:v), ' ')"

    def part_expr(self, part: ValueOf | NameOf) -> str:
        if isinstance(part, ValueOf):
            return self.value_expr(part.select)
        # ISO 5.4.6: @path "returns a string that is the name of a node": its value is shown.
        return self.value_expr(part.path) if part.path else "name()"

    def message_expr(self, parts: tuple[MessagePart, ...]) -> str:
        pieces = [quote(p) if isinstance(p, str) else self.part_expr(p) for p in parts]
        if not pieces:
            return "''"
        if len(pieces) == 1:
            return f"normalize-space({pieces[0]})"
        return f"normalize-space(concat({', '.join(pieces)}))"

    def test(self, item: Assertion) -> str:
        test = self.x(item.test)
        return f"not(({test}))" if item.kind == "assert" else f"({test})"

    def start(self, number: int, pattern: Pattern) -> str:
        """Where a pattern's walk begins: the document, or its subordinate documents."""
        return f"${DOCUMENTS_PREFIX}{number}" if pattern.documents else "."

    # -- variables ----------------------------------------------------------------------------

    def let_select(self, let: Let) -> str:
        if let.value is not None:
            return self.x(let.value)
        name = f"{KC}:let{len(self.data) + 1}"
        # Whitespace between elements is layout, as XSLT strips it from a stylesheet.
        self.data.append(
            f"<xsl:variable name={attr(name)} select="
            + attr(
                f"parse-xml-fragment({quote(let.content)})"
                "/node()[not(self::text()[not(normalize-space())])]"
            )
            + "/>"
        )
        return f"${name}"

    def let(self, item: Let, version: bool = False) -> None:
        at = f' version="{self.version}"' if version and item.value is not None else ""
        self.out.append(
            f"<xsl:variable name={attr(item.name)} select={attr(self.let_select(item))}{at}/>"
        )

    # -- rules --------------------------------------------------------------------------------

    def body(self, items: tuple[RuleItem, ...], rule_ref: str, scope: set[str]) -> None:
        scope = set(scope)
        for item in items:
            if isinstance(item, Let):
                self.let(item)
                scope.add(item.name)
            elif isinstance(item, Assertion):
                self.emitter.assertion(self, item, rule_ref)
            elif isinstance(item, Extends):
                self.call(item.rule, rule_ref, scope)

    def call(self, rule_id: str, rule_ref: str, scope: set[str]) -> None:
        number = self.numbers[rule_id]
        self.out.append(f'<xsl:call-template name="{KC}:a{number}">')
        self.out.append(f'<xsl:with-param name="{KC}:r" select={attr(rule_ref)}/>')
        # Variables the abstract rule reads from the extending rule's scope travel as tunnel
        # parameters: with inlining they would simply have been visible.
        for name in sorted(self.scope.free.get(rule_id, frozenset()) & scope):
            self.out.append(
                f'<xsl:with-param name={attr(name)} select={attr("$" + name)} tunnel="yes"/>'
            )
        self.out.append("</xsl:call-template>")

    def abstract(self, number: int, rule: AbstractRule) -> None:
        self.out.append(f'<xsl:template name="{KC}:a{number}" version="{self.version}">')
        self.out.append(f'<xsl:param name="{KC}:r"/>')
        free = sorted(self.scope.free.get(rule.id, frozenset()))
        for name in free:
            # Not passed by the extending rule: the global of that name (a param's own select
            # cannot see the param itself).
            default = f" select={attr('$' + name)}" if name in self.scope.global_names else ""
            self.out.append(f'<xsl:param name={attr(name)} tunnel="yes"{default}/>')
        self.body(rule.items, f"${KC}:r", set(free))
        self.out.append("</xsl:template>")

    def pattern(self, number: int, pattern: Pattern) -> None:
        mode = f"{KC}:p{number}"
        contexts = [r.context for r in pattern.rules]
        visit = "*"
        if any(may_match_other_nodes(c) for c in contexts):
            visit = "node()"
        if any(may_match_attributes(c) for c in contexts):
            visit = "@*|" + visit
        self.out.append(f'<xsl:mode name="{mode}" on-no-match="deep-skip"/>')
        self.out.append(
            f'<xsl:template match="document-node()|*" mode="{mode}" priority="-1000">'
            f'<xsl:apply-templates select="{visit}" mode="{mode}"/></xsl:template>'
        )
        total = len(pattern.rules)
        for position, rule in enumerate(pattern.rules):
            # What a document must hold for this rule to fire (gates.py): the compiler leaves
            # the template out for documents without it. Not for subordinate documents, which
            # are not the document the gates are checked on.
            needs = frozenset() if pattern.documents else context_gates(rule.context, self.ns)
            gated = f" {GATES_ATTRIBUTE}={attr(encode(needs))}" if needs else ""
            self.out.append(
                f'<xsl:template match={attr(cheap_first(self.x(rule.context)))} mode="{mode}" '
                f'priority="{total - position}" version="{self.version}"{gated}>'
            )
            self.emitter.fired(self, rule)
            self.body(rule.items, str(rule.index), set())
            self.out.append(f'<xsl:apply-templates select="{visit}" mode="{mode}"/></xsl:template>')

    def reachable(self, rules: list[Rule]) -> list[str]:
        """Abstract rules the active patterns extend, directly or not: only these are emitted."""
        seen: dict[str, None] = {}
        todo = [i.rule for r in rules for i in r.items if isinstance(i, Extends)]
        while todo:
            rule_id = todo.pop()
            if rule_id in seen:
                continue
            seen[rule_id] = None
            items = self.schema.abstract_rules[rule_id].items
            todo.extend(i.rule for i in items if isinstance(i, Extends))
        return sorted(seen, key=self.numbers.__getitem__)

    # -- the stylesheet -----------------------------------------------------------------------

    def generate(self, patterns: list[Pattern]) -> Generated:
        schema = self.schema
        for prefix in schema.namespaces:
            if prefix == KC:
                raise SchematronError(f"the prefix {KC!r} is reserved by kcert's compiler")
        declarations = "".join(
            f" xmlns:{prefix}={attr(uri)}"
            for prefix, uri in sorted(schema.namespaces.items())
            if prefix not in ("xsl", "xml")
        )
        self.out.append(
            '<xsl:stylesheet version="3.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"'
            f' xmlns:{KC}="{KC_NS}"{self.emitter.namespaces}{declarations}'
            f' exclude-result-prefixes="#all" xml:base={attr(schema.base_uri)}>'
        )
        self.out.append(f'<xsl:output method="{self.emitter.method}" encoding="UTF-8"/>')
        # Accumulators a schema declares (XSLT 3) apply to the document being validated.
        self.out.append('<xsl:mode use-accumulators="#all"/>')
        self.out.append(_HELPERS)
        self.out.extend(schema.foreign_xslt)
        for let in self.scope.globals:
            self.let(let, version=True)
        active = list(enumerate(patterns, start=1))
        subordinate = [(n, p) for n, p in active if p.documents]
        for number, pattern in subordinate:
            self.out.append(
                f'<xsl:param name="{DOCUMENTS_PREFIX}{number}" as="document-node()*" select="()"/>'
            )
            # Evaluated on the document itself, before the run: kcert loads what it names. One
            # string, "#" and a line per name: SaxonC hands back an empty sequence as one "".
            self.out.append(
                f'<xsl:template name="{DOCUMENTS_PREFIX}{number}" version="{self.version}">'
                f'<xsl:variable name="{KC}:all" select='
                + attr(f"for ${KC}:u in ({self.x(pattern.documents)}) return string(${KC}:u)")
                + f"/><xsl:sequence select=\"string-join(('#', ${KC}:all), '&#10;')\"/>"
                + "</xsl:template>"
            )
        self.emitter.root(self, active)
        for number, pattern in active:
            if pattern.rules:
                self.pattern(number, pattern)
        for rule_id in self.reachable([r for _, p in active for r in p.rules]):
            self.abstract(self.numbers[rule_id], schema.abstract_rules[rule_id])
        self.out.extend(self.data)
        # The lifted paths: the compiler supplies their values once; the defaults keep the
        # stylesheet correct on its own.
        lifted = tuple((name, expr) for expr, name in self.hoister.names.items())
        for name, expr in lifted:
            self.out.append(
                f'<xsl:param name={attr(name)} select={attr(expr)} version="{self.version}"/>'
            )
        self.out.append("</xsl:stylesheet>")
        return Generated(
            "\n".join(self.out),
            lifted,
            self.version,
            tuple(n for n, _ in subordinate),
            tuple(self.scope.warnings),
        )


def cheap_first(context: str) -> str:
    """Check a context's structure before its value-set predicates.

    Saxon tests the last step's predicates before the steps above it, so in
    `*[hl7:organizer]/hl7:organizer/hl7:code[concat(@code, @codeSystem) = $vs or @nullFlavor]`
    every hl7:code in the document pays for a value-set comparison, in every pattern. Written
    as `(*[hl7:organizer]/hl7:organizer/hl7:code)[...]` (an XSLT 3 pattern) the comparison runs
    only where the path matched. Same meaning as long as the moved predicates are not
    positional, which is checked.
    """
    if f"${PARAM_PREFIX}" not in context:
        return context
    split = last_step_predicates(context)
    if split is None:
        return context
    path, predicates = split
    costly = [p for p in predicates if f"${PARAM_PREFIX}" in p]
    cheap = [p for p in predicates if f"${PARAM_PREFIX}" not in p]
    if any(_maybe_positional(p) for p in predicates):
        return context
    head = path + "".join(f"[{p}]" for p in cheap)
    return f"({head})" + "".join(f"[{p}]" for p in costly)


def _maybe_positional(predicate: str) -> bool:
    text = predicate.strip()
    return (
        "position()" in text
        or "last()" in text
        or text.replace(".", "", 1).isdigit()
        or (text.startswith("$") and " " not in text)
    )


@dataclass(frozen=True)
class Generated:
    xslt: str
    lifted: tuple[tuple[str, str], ...]  # (parameter name, context-free expression)
    version: str  # XPath/XSLT version the schema's expressions are written for
    subordinate: tuple[int, ...] = ()  # numbers of the patterns with @documents
    warnings: tuple[str, ...] = ()  # ISO errors tolerated by a leniency


def generate_xslt(
    schema: Schema,
    phase: str | None = None,
    leniency: frozenset[str] = STRICT,
    emitter: Emitter | None = None,
) -> Generated:
    """The XSLT 3 stylesheet that checks documents against `schema` in `phase`.

    The schema is checked first (scope.py): an ISO schema error is a SchematronError naming
    file:line, unless `leniency` names it.
    """
    patterns, scope = check_schema(schema, phase, leniency)
    return Generator(schema, scope, emitter or CompactEmitter()).generate(patterns)


__all__ = [
    "CompactEmitter",
    "Emitter",
    "Generated",
    "Generator",
    "active_patterns",
    "attr",
    "generate_xslt",
]
