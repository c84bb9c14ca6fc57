"""The in-memory form of a Schematron schema, after includes and abstract patterns are resolved.

The code generator and the result reader share these types: the generator turns them into XSLT,
the reader looks assertions up by index to turn compact result records back into findings.
Every element that can be wrong carries `where` ("file:line"), so schema errors can name it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCH_NS = "http://purl.oclc.org/dsdl/schematron"
XSL_NS = "http://www.w3.org/1999/XSL/Transform"
KC_NS = "urn:kcert:schematron:generated"

QUERY_BINDINGS = ("xslt", "xslt2", "xslt3")


class SchematronError(ValueError):
    """The schematron itself is unusable (bad include, unknown phase, an ISO schema error)."""


class SchematronRunError(RuntimeError):
    """The schematron could not be evaluated on a document (XPath error, unloadable document)."""


@dataclass(frozen=True)
class ValueOf:
    """`<value-of select="..."/>` inside a message."""

    select: str


@dataclass(frozen=True)
class NameOf:
    """`<name path="..."/>` inside a message; without a path it names the context node."""

    path: str = ""


@dataclass(frozen=True)
class Foreign:
    """A foreign element (XSLT or literal markup) inside a property, kept as serialized XML."""

    xml: str


MessagePart = str | ValueOf | NameOf
PropertyPart = str | ValueOf | NameOf | Foreign


def is_static(parts: tuple[MessagePart, ...]) -> bool:
    """A message without value-of or name can be rendered in Python, not per failure in XSLT."""
    return all(isinstance(p, str) for p in parts)


def static_text(parts: tuple[MessagePart, ...]) -> str:
    return " ".join("".join(p for p in parts if isinstance(p, str)).split())


@dataclass(frozen=True)
class Let:
    name: str
    value: str | None  # an XPath expression
    content: str = ""  # serialized element content when the let has no value attribute (data)
    where: str = ""


@dataclass(frozen=True)
class Assertion:
    index: int  # unique in the schema; the key of result records
    kind: str  # "assert" or "report"
    test: str
    message: tuple[MessagePart, ...]
    id: str = ""
    role: str = ""
    flag: str = ""
    see: str = ""
    diagnostics: tuple[str, ...] = ()
    owner: str = ""  # the pattern or abstract rule the assertion is written in
    ordinal: int = 0  # 1-based position inside its owner, for a fallback rule id
    in_rule: int = 0  # 1-based position inside its rule
    rule_size: int = 0  # how many assertions its rule has
    properties: tuple[str, ...] = ()
    lang: str = ""  # effective xml:lang where the assertion is written
    where: str = ""


@dataclass(frozen=True)
class Extends:
    rule: str  # id of an abstract rule
    where: str = ""


RuleItem = Let | Assertion | Extends


@dataclass(frozen=True)
class Rule:
    index: int  # unique among concrete rules; result records carry it
    context: str
    items: tuple[RuleItem, ...]
    id: str = ""
    role: str = ""
    flag: str = ""
    pattern: str = ""  # id (or generated name) of the enclosing pattern
    where: str = ""


@dataclass(frozen=True)
class AbstractRule:
    id: str
    items: tuple[RuleItem, ...]
    role: str = ""
    flag: str = ""
    pattern: str = ""  # the pattern it is written in; "" for sch:rules and the schema level
    where: str = ""


@dataclass(frozen=True)
class Pattern:
    name: str  # @id, else a generated "pattern-N"
    has_id: bool
    title: str
    lets: tuple[Let, ...]
    rules: tuple[Rule, ...]
    documents: str = ""  # ISO 2016: an expression naming the subordinate documents
    where: str = ""


@dataclass(frozen=True)
class Phase:
    id: str
    active: tuple[str, ...]
    lets: tuple[Let, ...]
    where: str = ""


@dataclass(frozen=True)
class Diagnostic:
    id: str  # unique; an abstract pattern instance may own a copy under a new id
    message: tuple[MessagePart, ...]
    lang: str = ""
    label: str = ""  # the id as written, for reports ("" = same as id)

    @property
    def shown(self) -> str:
        return self.label or self.id


@dataclass(frozen=True)
class Property:
    id: str
    content: tuple[PropertyPart, ...]
    role: str = ""
    scheme: str = ""
    label: str = ""

    @property
    def shown(self) -> str:
        return self.label or self.id


@dataclass
class Schema:
    base_uri: str  # file URI of the main schematron: doc() resolves relative to it
    query_binding: str
    namespaces: dict[str, str]
    lets: tuple[Let, ...]
    patterns: tuple[Pattern, ...]
    phases: dict[str, Phase]
    abstract_rules: dict[str, AbstractRule]
    diagnostics: dict[str, Diagnostic]
    default_phase: str = ""
    title: str = ""
    foreign_xslt: tuple[str, ...] = ()  # top-level xsl:key / xsl:function, serialized
    assertions: list[Assertion] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    files: tuple[str, ...] = ()  # every schematron file read, for cache validation
    properties: dict[str, Property] = field(default_factory=dict)
    foreign_globals: frozenset[str] = frozenset()  # names of top-level xsl:variable/xsl:param
    concrete_rule_ids: frozenset[str] = frozenset()  # ids of non-abstract rules (extends check)
    schema_version: str = ""
    lang: str = ""
