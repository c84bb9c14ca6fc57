"""ISO Schematron's static rules on variables and extends, checked before any XSLT is made.

ISO/IEC 19757-3 (2016), 5.4.5: schema and pattern variables share one global scope; a phase
has its own variables, which take precedence over global ones of the same name while that
phase is active; a rule's variables are local to it. A variable defined twice in one scope,
or a reference to one that is defined nowhere in scope, is a schema error. 5.4.12: a rule may
only extend an abstract rule (of its own pattern, or of ISO 2016 `sch:rules`).

Two leniencies, each off unless asked for, let kcert use MedCom's official ART-DECOR packs,
which break two of these rules on purpose (see ART_DECOR); each tolerated case is recorded as
a warning on the compiled schematron, never silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from harness.validators.schematron.model import (
    AbstractRule,
    Assertion,
    Diagnostic,
    Extends,
    Let,
    NameOf,
    Pattern,
    Property,
    RuleItem,
    Schema,
    SchematronError,
    ValueOf,
)
from harness.validators.schematron.xpathtext import free_variables

REBIND_RULE_LETS = "rule-let-rebinding"
CROSS_PATTERN_EXTENDS = "cross-pattern-extends"
LENIENCIES: dict[str, str] = {
    REBIND_RULE_LETS: (
        "a rule (with the abstract rules it extends) may define a variable again; later "
        "expressions see the newest definition, as XSLT 2+ local variables do"
    ),
    CROSS_PATTERN_EXTENDS: (
        "a rule may extend an abstract rule written in another pattern, as if that pattern "
        "were ISO 2016 sch:rules"
    ),
}
STRICT: frozenset[str] = frozenset()
# ART-DECOR writes every datatype's abstract rule into the schema's first pattern and extends
# them from all the others; its timestamp rules (TS, IVL_TS) re-bind $theTS, $theBC, ... for
# low, center and high in turn, and template rules re-bind $theAttValue per attribute.
ART_DECOR: frozenset[str] = frozenset({REBIND_RULE_LETS, CROSS_PATTERN_EXTENDS})
MAX_WARNINGS = 100
RESERVED_PREFIX = "kcx_"  # kcert's own stylesheet parameters (hoist.py, subordinate documents)


def check_leniency(leniency: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(leniency)
    unknown = sorted(chosen - set(LENIENCIES))
    if unknown:
        raise ValueError(f"unknown schematron leniency {unknown} (known: {sorted(LENIENCIES)})")
    return chosen


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


def assertion_variables(
    item: Assertion, diagnostics: Mapping[str, Diagnostic], properties: Mapping[str, Property]
) -> set[str]:
    """Variables an assertion reads: its test, message, diagnostics and properties."""
    used = free_variables(item.test)
    parts: list[object] = list(item.message)
    for ref in item.diagnostics:
        if ref in diagnostics:
            parts.extend(diagnostics[ref].message)
    for ref in item.properties:
        if ref in properties:
            parts.extend(properties[ref].content)
    for part in parts:
        if isinstance(part, ValueOf):
            used |= free_variables(part.select)
        elif isinstance(part, NameOf):
            used |= free_variables(part.path)
    return used


@dataclass
class _Abstract:
    free: dict[str, str]  # variable read from the extending rule -> where it is read
    binds: dict[str, Let]  # variables the rule's expansion defines


@dataclass
class Scope:
    """The outcome of the checks for one phase: what the generator needs, and the warnings."""

    globals: list[Let]  # the global lets in force (phase lets replace same-named ones)
    global_names: frozenset[str]
    free: dict[str, frozenset[str]] = field(default_factory=dict)  # abstract rule -> tunnelled
    warnings: list[str] = field(default_factory=list)


class _Checker:
    def __init__(self, schema: Schema, leniency: frozenset[str]) -> None:
        self.schema = schema
        self.leniency = leniency
        self.global_names: frozenset[str] = frozenset()
        self.abstract: dict[str, _Abstract] = {}
        self.rebound: dict[str, tuple[str, list[str]]] = {}  # rule where -> (label, names)
        self.crossed: dict[str, list[str]] = {}  # owning pattern -> extends sites

    # -- globals ------------------------------------------------------------------------------

    def unique(self, lets: Iterable[Let], scope: str) -> dict[str, Let]:
        seen: dict[str, Let] = {}
        for let in lets:
            if let.name.startswith(RESERVED_PREFIX):
                raise SchematronError(
                    f"{let.where}: variable name ${let.name}: the prefix {RESERVED_PREFIX!r} "
                    "is reserved by kcert's compiler"
                )
            first = seen.get(let.name)
            if first is not None:
                raise SchematronError(
                    f"{let.where}: variable ${let.name} is defined twice in {scope} (first at "
                    f"{first.where}); ISO 19757-3 5.4.5 forbids that"
                )
            seen[let.name] = let
        return seen

    def globals(self, phase_lets: list[Let]) -> list[Let]:
        schema = self.schema
        pattern_lets = [let for p in schema.patterns for let in p.lets]
        # Pattern variables are global (ISO 2016 5.4.5): one scope with the schema's.
        shared = self.unique(
            [*schema.lets, *pattern_lets], "the global scope (schema and patterns)"
        )
        for phase in schema.phases.values():
            self.unique(phase.lets, f"phase {phase.id!r}")
        own = {let.name: let for let in phase_lets}
        chosen = [own.pop(let.name, let) for let in shared.values()]
        chosen.extend(own.values())
        self.global_names = frozenset(let.name for let in chosen) | schema.foreign_globals
        for let in chosen:
            self.need(free_variables(let.value or ""), set(), let.where, f"variable ${let.name}")
        return chosen

    # -- references ---------------------------------------------------------------------------

    def need(self, names: set[str], visible: set[str], where: str, what: str) -> None:
        missing = sorted(names - visible - self.global_names)
        if missing:
            shown = ", ".join(f"${n}" for n in missing)
            raise SchematronError(
                f"{where}: {what} reads {shown}, defined nowhere in scope (ISO 19757-3 5.4.5)"
            )

    def item_variables(self, item: RuleItem) -> set[str]:
        if isinstance(item, Let):
            return free_variables(item.value or "")
        if isinstance(item, Assertion):
            schema = self.schema
            return assertion_variables(item, schema.diagnostics, schema.properties)
        return set()

    # -- rules --------------------------------------------------------------------------------

    def rebind(self, let: Let, first: Let, owner_where: str, label: str) -> None:
        if REBIND_RULE_LETS not in self.leniency:
            raise SchematronError(
                f"{let.where}: variable ${let.name} is defined twice in rule {label} (first at "
                f"{first.where}); ISO 19757-3 5.4.5 forbids that"
            )
        self.rebound.setdefault(owner_where, (label, []))[1].append(let.name)

    def target(self, item: Extends, pattern: str, label: str) -> AbstractRule:
        found = self.schema.abstract_rules.get(item.rule)
        if found is None:
            if item.rule in self.schema.concrete_rule_ids:
                raise SchematronError(
                    f"{item.where}: rule {label} extends rule {item.rule!r}, which is not "
                    "abstract (ISO 19757-3 5.4.12)"
                )
            raise SchematronError(f"{item.where}: rule {label} extends unknown rule {item.rule!r}")
        if found.pattern and found.pattern != pattern:
            if CROSS_PATTERN_EXTENDS not in self.leniency:
                raise SchematronError(
                    f"{item.where}: rule {label} extends abstract rule {found.id!r} of pattern "
                    f"{found.pattern!r} ({found.where}); ISO 19757-3 5.4.12 allows only the "
                    "rule's own pattern (shared abstract rules belong in sch:rules)"
                )
            self.crossed.setdefault(found.pattern, []).append(f"{item.where} ({found.id})")
        return found

    def walk(
        self,
        items: tuple[RuleItem, ...],
        pattern: str,
        label: str,
        owner_where: str,
        free: dict[str, str] | None,
        chain: tuple[str, ...] = (),
    ) -> dict[str, Let]:
        """Check one rule body in order; `free` collects outside reads (abstract rules only)."""
        visible: set[str] = set()
        bound: dict[str, Let] = {}
        hidden: dict[str, Let] = {}  # bound by an extended abstract rule: not visible here
        for item in items:
            if isinstance(item, Extends):
                info = self.analyse(self.target(item, pattern, label), chain)
                outside = set(info.free) - visible
                if free is not None:
                    for name in sorted(outside):
                        free.setdefault(name, info.free[name])
                else:
                    missing = sorted(outside - self.global_names)
                    if missing:
                        name = missing[0]
                        raise SchematronError(
                            f"{info.free[name]}: ${name}, read in abstract rule {item.rule!r}, "
                            f"is defined nowhere in scope of rule {label} extending it at "
                            f"{item.where} (ISO 19757-3 5.4.5)"
                        )
                for name, let in info.binds.items():
                    if name in bound:
                        self.rebind(let, bound[name], owner_where, label)
                    bound[name] = let
                    if name not in visible:
                        hidden[name] = let
                continue
            names = self.item_variables(item)
            where = item.where
            for name in sorted((names - visible) & set(hidden)):
                raise SchematronError(
                    f"{where}: ${name} is defined only inside an abstract rule that rule "
                    f"{label} extends ({hidden[name].where}); kcert runs each abstract rule as "
                    "its own template, so the extending rule cannot read it"
                )
            if free is not None:
                for name in sorted(names - visible):
                    free.setdefault(name, where)
            else:
                kind = "variable" if isinstance(item, Let) else getattr(item, "kind", "item")
                self.need(names, visible, where, kind)
            if isinstance(item, Let):
                if item.name.startswith(RESERVED_PREFIX):
                    raise SchematronError(
                        f"{item.where}: variable name ${item.name}: the prefix "
                        f"{RESERVED_PREFIX!r} is reserved by kcert's compiler"
                    )
                if item.name in bound:
                    self.rebind(item, bound[item.name], owner_where, label)
                bound[item.name] = item
                visible.add(item.name)
                hidden.pop(item.name, None)
        return bound

    def analyse(self, rule: AbstractRule, chain: tuple[str, ...]) -> _Abstract:
        known = self.abstract.get(rule.id)
        if known is not None:
            return known
        if rule.id in chain:
            raise SchematronError(
                f"{rule.where}: abstract rules extend each other in a cycle: "
                f"{' -> '.join((*chain, rule.id))}"
            )
        free: dict[str, str] = {}
        binds = self.walk(
            rule.items, rule.pattern, repr(rule.id), rule.where, free, (*chain, rule.id)
        )
        info = _Abstract(free, binds)
        self.abstract[rule.id] = info
        return info

    def patterns(self, patterns: list[Pattern]) -> None:
        for pattern in patterns:
            if pattern.documents:
                self.need(
                    free_variables(pattern.documents), set(), pattern.where, "pattern/@documents"
                )
            for rule in pattern.rules:
                label = repr(rule.id) if rule.id else f"context={rule.context!r}"
                self.need(free_variables(rule.context), set(), rule.where, "rule context")
                self.walk(rule.items, pattern.name, label, rule.where, None)

    def warnings(self) -> list[str]:
        out: list[str] = []
        for where, (label, names) in self.rebound.items():
            shown = ", ".join(f"${n}" for n in dict.fromkeys(names))
            out.append(
                f"{where}: rule {label} defines {shown} more than once; tolerated by leniency "
                f"{REBIND_RULE_LETS!r} (ISO 19757-3 5.4.5 calls it an error)"
            )
        for pattern, sites in self.crossed.items():
            out.append(
                f"{len(sites)} extends in other patterns use abstract rules of pattern "
                f"{pattern!r} (first: {sites[0]}); tolerated by leniency "
                f"{CROSS_PATTERN_EXTENDS!r} (ISO 19757-3 5.4.12 calls it an error)"
            )
        if len(out) > MAX_WARNINGS:
            out = [*out[:MAX_WARNINGS], f"... and {len(out) - MAX_WARNINGS} more warnings"]
        return out


def check_schema(
    schema: Schema, phase: str | None, leniency: frozenset[str] = STRICT
) -> tuple[list[Pattern], Scope]:
    """The active patterns and their scopes; SchematronError (file:line) for an ISO error."""
    checker = _Checker(schema, leniency)
    patterns, phase_lets = active_patterns(schema, phase)
    chosen = checker.globals(phase_lets)
    checker.patterns(patterns)
    free = {rule_id: frozenset(info.free) for rule_id, info in checker.abstract.items()}
    return patterns, Scope(chosen, checker.global_names, free, checker.warnings())
