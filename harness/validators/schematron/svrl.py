"""The SVRL output of the compiler (ISO/IEC 19757-3 Annex D): a report, not kcert's records.

kcert's findings come from compact records (codegen.CompactEmitter), which are much cheaper.
This emitter makes the same stylesheet write the Schematron Validation Report Language instead:
svrl:schematron-output with svrl:active-pattern per active pattern, svrl:fired-rule per rule
that fires, and svrl:failed-assert / svrl:successful-report carrying svrl:diagnostic-reference,
svrl:property-reference (property content is run, so an xsl:copy-of copies) and svrl:text.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from harness.validators.schematron.codegen import KC, Generator, attr
from harness.validators.schematron.model import Assertion, Foreign, Pattern, Rule
from harness.validators.schematron.xpathtext import avt

SVRL_NS = "http://purl.oclc.org/dsdl/svrl"
_WHERE = f"""
<xsl:function name="{KC}:where" as="Q{{http://www.w3.org/2001/XMLSchema}}string">
  <xsl:param name="node" as="node()"/>
  <xsl:sequence select="path($node)"/>
</xsl:function>
"""


def _literal(name: str, value: str) -> str:
    """An attribute of a literal result element that comes out exactly as `value`."""
    return f" {name}={attr(avt(value))}" if value else ""


class SvrlEmitter:
    """Writes SVRL; fn:path gives locations that resolve with any XPath 3 processor."""

    method = "xml"
    namespaces = f' xmlns:svrl="{SVRL_NS}"'

    def __init__(self, phase: str | None = None) -> None:
        self.phase = phase or ""

    def root(self, gen: Generator, active: list[tuple[int, Pattern]]) -> None:
        schema = gen.schema
        out = gen.out
        out.append(_WHERE)
        out.append('<xsl:template match="/">')
        out.append(
            "<svrl:schematron-output"
            + _literal("title", schema.title)
            + _literal("phase", self.phase)
            + _literal("schemaVersion", schema.schema_version)
            + ">"
        )
        for prefix, uri in sorted(schema.namespaces.items()):
            out.append(
                f"<svrl:ns-prefix-in-attribute-values{_literal('uri', uri)}"
                f"{_literal('prefix', prefix)}/>"
            )
        for number, pattern in active:
            out.append(
                "<svrl:active-pattern"
                + _literal("id", pattern.name if pattern.has_id else "")
                + _literal("name", pattern.title)
                + ">"
            )
            if pattern.documents:
                select = f"string-join(for $d in {gen.start(number, pattern)} return "
                select += "string(base-uri($d)), ' ')"
                out.append(f'<xsl:attribute name="documents" select={attr(select)}/>')
            out.append("</svrl:active-pattern>")
            if pattern.rules:
                out.append(
                    f'<xsl:apply-templates select="{gen.start(number, pattern)}" '
                    f'mode="{KC}:p{number}"/>'
                )
        out.append("</svrl:schematron-output></xsl:template>")

    def fired(self, gen: Generator, rule: Rule) -> None:
        gen.out.append(
            "<svrl:fired-rule"
            + _literal("context", rule.context)
            + _literal("id", rule.id)
            + _literal("role", rule.role)
            + _literal("flag", rule.flag)
            + ">"
            + '<xsl:if test="string(base-uri(root(.)))">'
            + '<xsl:attribute name="document" select="string(base-uri(root(.)))"/></xsl:if>'
            + "</svrl:fired-rule>"
        )

    def assertion(self, gen: Generator, item: Assertion, rule_ref: str) -> None:
        schema = gen.schema
        element = "svrl:failed-assert" if item.kind == "assert" else "svrl:successful-report"
        out = [
            f"<xsl:if test={attr(gen.test(item))}><{element}"
            + _literal("test", item.test)
            + f' location="{{{KC}:where(.)}}"'
            + _literal("id", item.id)
            + _literal("role", item.role)
            + _literal("flag", item.flag)
            + _literal("see", item.see)
            + _literal("xml:lang", item.lang)
            + ">"
        ]
        for ref in item.diagnostics:
            diagnostic = schema.diagnostics.get(ref)
            if diagnostic is None:
                continue
            out.append(
                f"<svrl:diagnostic-reference{_literal('diagnostic', diagnostic.shown)}>"
                f"<svrl:text{_literal('xml:lang', diagnostic.lang)}>"
                f"<xsl:value-of select={attr(gen.message_expr(diagnostic.message))}/>"
                "</svrl:text></svrl:diagnostic-reference>"
            )
        for ref in item.properties:
            found = schema.properties.get(ref)
            if found is None:
                continue
            content = []
            for part in found.content:
                if isinstance(part, str):
                    content.append(f"<xsl:text>{escape(part)}</xsl:text>")
                elif isinstance(part, Foreign):
                    content.append(part.xml)  # XSLT runs, other markup is copied
                else:
                    content.append(f"<xsl:value-of select={attr(gen.part_expr(part))}/>")
            out.append(
                "<svrl:property-reference"
                + _literal("property", found.shown)
                + _literal("role", found.role)
                + _literal("scheme", found.scheme)
                + "><svrl:text>"
                + "".join(content)
                + "</svrl:text></svrl:property-reference>"
            )
        out.append(
            f"<svrl:text><xsl:value-of select={attr(gen.message_expr(item.message))}/></svrl:text>"
        )
        out.append(f"</{element}></xsl:if>")
        gen.out.append("".join(out))


__all__ = ["SVRL_NS", "SvrlEmitter"]
