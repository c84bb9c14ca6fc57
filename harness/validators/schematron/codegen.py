"""Schematron model -> XSLT 3 text, built for fast compile and fast runs on large rule sets.

Shape of the output:
- one mode per active pattern with concrete rules; each concrete rule is a template whose
  priority falls with its position, so a node is handled by the first matching rule of a
  pattern only (Schematron semantics); unmatched nodes are walked through by one fallback
  template that visits attributes and text only when a rule of the pattern can match them;
- each abstract rule becomes ONE named template, called from every rule that extends it
  (inlining, as the ISO skeleton does, multiplies the code ~8x on ART-DECOR schematrons);
- each assertion is one xsl:if writing one tab-separated record line: assertion index, rule
  index, node path, and only the dynamic text (value-of / name); static text stays in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape

from harness.validators.schematron.hoist import PARAM_PREFIX, Hoister
from harness.validators.schematron.model import (
    AbstractRule,
    Assertion,
    Diagnostic,
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
from harness.validators.schematron.xpathtext import (
    free_variables,
    last_step_predicates,
    may_match_attributes,
    may_match_other_nodes,
    quote,
)

KC_NS = "urn:kcert:schematron:generated"
KC = "kcx"  # prefix of every generated name, so none can clash with the schema's own
XS_STRING = "Q{http://www.w3.org/2001/XMLSchema}string"
_VERSIONS = {"xslt": "1.0", "xslt2": "2.0", "xslt3": "3.0"}

# Node paths are computed only for failures: element names as written in the document (the
# CDA default namespace gives bare names) with positions among same-named siblings.
_HELPERS = f"""
<xsl:function name="{KC}:path" as="{XS_STRING}">
  <xsl:param name="node" as="node()"/>
  <xsl:sequence select="if ($node instance of document-node()) then '/' else string-join(
    for $n in $node/ancestor-or-self::node()[not(self::document-node())] return {KC}:step($n),
    '')"/>
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


def active_patterns(schema: Schema, phase: str | None) -> tuple[list[Pattern], list[Let]]:
    """The patterns a phase runs, and the phase's own lets (#ALL runs every pattern)."""
    chosen = phase or "#DEFAULT"
    if chosen == "#DEFAULT":
        chosen = schema.default_phase or "#ALL"
    if chosen == "#ALL":
        return list(schema.patterns), []
    found = schema.phases.get(chosen)
    if found is None:
        known = ", ".join(sorted(schema.phases)) or "none"
        raise SchematronError(f"no phase {chosen!r} in the schematron (phases: {known})")
    wanted = set(found.active)
    return [p for p in schema.patterns if p.name in wanted], list(found.lets)


class _Generator:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.version = _VERSIONS[schema.query_binding]
        self.out: list[str] = []
        self.globals: set[str] = set()
        self._free: dict[str, set[str]] = {}
        self.numbers = {rule_id: n for n, rule_id in enumerate(schema.abstract_rules)}
        self.hoister = Hoister()
        self.x = self.hoister.rewrite

    # -- analysis ---------------------------------------------------------------------------

    def free(self, rule_id: str, chain: tuple[str, ...] = ()) -> set[str]:
        """Variables an abstract rule reads but neither it nor a global defines."""
        if rule_id in self._free:
            return self._free[rule_id]
        if rule_id in chain:
            raise SchematronError(f"abstract rules extend each other in a cycle: {chain}")
        rule = self.schema.abstract_rules[rule_id]
        used: set[str] = set()
        own: set[str] = set()
        for item in rule.items:
            if isinstance(item, Let):
                own.add(item.name)
                used |= free_variables(item.value or "")
            elif isinstance(item, Assertion):
                used |= _assertion_variables(item, self.schema.diagnostics)
            else:
                used |= self.free(item.rule, (*chain, rule_id))
        result = used - own - self.globals
        self._free[rule_id] = result
        return result

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

    # -- emission ---------------------------------------------------------------------------

    def message_expr(self, parts: tuple[MessagePart, ...]) -> str:
        pieces: list[str] = []
        for part in parts:
            if isinstance(part, str):
                pieces.append(quote(part))
            elif isinstance(part, ValueOf):
                if self.version == "1.0":
                    # Backwards-compatible mode: string() of a sequence is its first item's.
                    pieces.append(f"string({self.x(part.select)})")
                else:
                    select = self.x(part.select)
                    pieces.append(
                        f"string-join(for ${KC}:v in ({select}) return string(${KC}:v), ' ')"
                    )
            elif isinstance(part, NameOf):
                pieces.append(f"name(({self.x(part.path)})[1])" if part.path else "name()")
        if not pieces:
            return "''"
        if len(pieces) == 1:
            return f"normalize-space({pieces[0]})"
        return f"normalize-space(concat({', '.join(pieces)}))"

    def assertion(self, item: Assertion, rule_ref: str) -> None:
        fields = [quote(f"{item.index}\t"), rule_ref, quote("\t"), f"{KC}:path(.)", quote("\t")]
        if not is_static(item.message):
            fields.append(self.message_expr(item.message))
        for ref in item.diagnostics:
            fields.append(quote("\t"))
            diagnostic = self.schema.diagnostics.get(ref)
            if diagnostic is not None and not is_static(diagnostic.message):
                fields.append(self.message_expr(diagnostic.message))
        fields.append(quote("\n"))
        test = self.x(item.test)
        test = f"not(({test}))" if item.kind == "assert" else f"({test})"
        record = "concat(" + ", ".join(fields) + ")"
        self.out.append(f"<xsl:if test={attr(test)}><xsl:value-of select={attr(record)}/></xsl:if>")

    def let(self, item: Let) -> None:
        if item.value is not None:
            self.out.append(
                f"<xsl:variable name={attr(item.name)} select={attr(self.x(item.value))}/>"
            )
        else:
            self.out.append(f"<xsl:variable name={attr(item.name)}>{item.content}</xsl:variable>")

    def body(self, items: tuple[RuleItem, ...], rule_ref: str, scope: set[str]) -> None:
        scope = set(scope)
        for item in items:
            if isinstance(item, Let):
                self.let(item)
                scope.add(item.name)
            elif isinstance(item, Assertion):
                self.assertion(item, rule_ref)
            elif isinstance(item, Extends):
                self.call(item.rule, rule_ref, scope)

    def call(self, rule_id: str, rule_ref: str, scope: set[str]) -> None:
        number = self.numbers[rule_id]
        self.out.append(f'<xsl:call-template name="{KC}:a{number}">')
        self.out.append(f'<xsl:with-param name="{KC}:r" select={attr(rule_ref)}/>')
        # Variables the abstract rule reads from the extending rule's scope travel as tunnel
        # parameters: with inlining they would simply have been visible.
        for name in sorted(self.free(rule_id) & scope):
            self.out.append(
                f'<xsl:with-param name={attr(name)} select={attr("$" + name)} tunnel="yes"/>'
            )
        self.out.append("</xsl:call-template>")

    def abstract(self, number: int, rule: AbstractRule) -> None:
        self.out.append(f'<xsl:template name="{KC}:a{number}" version="{self.version}">')
        self.out.append(f'<xsl:param name="{KC}:r"/>')
        free = sorted(self.free(rule.id))
        for name in free:
            self.out.append(f'<xsl:param name={attr(name)} tunnel="yes"/>')
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
        lets = [let.name for let in pattern.lets]
        params = "".join(f'<xsl:param name={attr(n)} tunnel="yes"/>' for n in lets)
        self.out.append(f'<xsl:mode name="{mode}" on-no-match="deep-skip"/>')
        self.out.append(
            f'<xsl:template match="document-node()|*" mode="{mode}" priority="-1000">'
            f'<xsl:apply-templates select="{visit}" mode="{mode}"/></xsl:template>'
        )
        total = len(pattern.rules)
        for position, rule in enumerate(pattern.rules):
            self.out.append(
                f'<xsl:template match={attr(cheap_first(self.x(rule.context)))} mode="{mode}" '
                f'priority="{total - position}" version="{self.version}">{params}'
            )
            self.body(rule.items, str(rule.index), set(lets))
            self.out.append(f'<xsl:apply-templates select="{visit}" mode="{mode}"/></xsl:template>')

    def generate(self, phase: str | None) -> Generated:
        schema = self.schema
        patterns, phase_lets = active_patterns(schema, phase)
        global_lets = [*schema.lets, *phase_lets]
        self.globals = {let.name for let in global_lets}
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
            f' xmlns:{KC}="{KC_NS}"{declarations} exclude-result-prefixes="#all"'
            f" xml:base={attr(schema.base_uri)}>"
        )
        self.out.append('<xsl:output method="text" encoding="UTF-8"/>')
        self.out.append(_HELPERS)
        self.out.extend(schema.foreign_xslt)
        for let in global_lets:
            if let.value is not None:
                self.out.append(
                    f"<xsl:variable name={attr(let.name)} select={attr(self.x(let.value))}"
                    f' version="{self.version}"/>'
                )
            else:
                self.out.append(
                    f'<xsl:variable name={attr(let.name)} version="{self.version}">'
                    f"{let.content}</xsl:variable>"
                )
        used = [(n, p) for n, p in enumerate(patterns, start=1) if p.rules]
        self.out.append('<xsl:template match="/">')
        for number, _ in used:
            self.out.append(f'<xsl:call-template name="{KC}:run{number}"/>')
        self.out.append("</xsl:template>")
        for number, pattern in used:
            # Pattern lets are evaluated once on the document and tunnelled to the rules.
            self.out.append(f'<xsl:template name="{KC}:run{number}" version="{self.version}">')
            for let in pattern.lets:
                self.let(let)
            self.out.append(f'<xsl:apply-templates select="." mode="{KC}:p{number}">')
            for let in pattern.lets:
                self.out.append(
                    f"<xsl:with-param name={attr(let.name)} select={attr('$' + let.name)}"
                    ' tunnel="yes"/>'
                )
            self.out.append("</xsl:apply-templates></xsl:template>")
            self.pattern(number, pattern)
        for rule_id in self.reachable([r for _, p in used for r in p.rules]):
            self.abstract(self.numbers[rule_id], schema.abstract_rules[rule_id])
        # The lifted paths: the compiler supplies their values once; the defaults keep the
        # stylesheet correct on its own.
        lifted = tuple((name, expr) for expr, name in self.hoister.names.items())
        for name, expr in lifted:
            self.out.append(
                f'<xsl:param name={attr(name)} select={attr(expr)} version="{self.version}"/>'
            )
        self.out.append("</xsl:stylesheet>")
        return Generated("\n".join(self.out), lifted, self.version)


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


def _assertion_variables(item: Assertion, diagnostics: dict[str, Diagnostic]) -> set[str]:
    used = free_variables(item.test)
    parts = list(item.message)
    for ref in item.diagnostics:
        if ref in diagnostics:
            parts.extend(diagnostics[ref].message)
    for part in parts:
        if isinstance(part, ValueOf):
            used |= free_variables(part.select)
        elif isinstance(part, NameOf):
            used |= free_variables(part.path)
    return used


@dataclass(frozen=True)
class Generated:
    xslt: str
    lifted: tuple[tuple[str, str], ...]  # (parameter name, context-free expression)
    version: str  # XPath/XSLT version the schema's expressions are written for


def generate_xslt(schema: Schema, phase: str | None = None) -> Generated:
    """The XSLT 3 stylesheet that checks documents against `schema` in `phase`."""
    return _Generator(schema).generate(phase)
