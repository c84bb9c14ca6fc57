"""What the Python side must know about each assertion and rule to read the compact records.

The generated XSLT emits only indexes, a node path and dynamic text; everything static (test,
role, flag, static message) lives here, and is cached as JSON next to the stylesheet.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from harness.validators.schematron.codegen import Generated
from harness.validators.schematron.model import Schema, is_static, static_text


@dataclass(frozen=True)
class AssertionInfo:
    kind: str
    test: str
    id: str
    role: str
    flag: str
    see: str
    owner: str
    ordinal: int
    in_rule: int
    rule_size: int
    message: str  # the static text; "" when the message is rendered per failure
    dynamic: bool
    diagnostics: tuple[tuple[str, str, bool], ...]  # (id, static text, dynamic?)


@dataclass(frozen=True)
class RuleInfo:
    context: str
    id: str
    pattern: str
    role: str
    flag: str


@dataclass(frozen=True)
class Catalogue:
    title: str
    query_binding: str
    assertions: tuple[AssertionInfo, ...]
    rules: tuple[RuleInfo, ...]
    # To precompute lifted value-set paths (hoist.py) the compiler needs their static context.
    base_uri: str = ""
    namespaces: tuple[tuple[str, str], ...] = ()
    lifted: tuple[tuple[str, str], ...] = ()
    version: str = "3.0"
    subordinate: tuple[int, ...] = ()  # patterns whose rules run on subordinate documents
    warnings: tuple[str, ...] = ()  # ISO schema errors a leniency let through

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @staticmethod
    def from_json(text: str) -> Catalogue:
        data: dict[str, Any] = json.loads(text)
        return Catalogue(
            data["title"],
            data["query_binding"],
            tuple(
                AssertionInfo(
                    **{
                        **a,
                        "diagnostics": tuple(
                            (str(d[0]), str(d[1]), bool(d[2])) for d in a["diagnostics"]
                        ),
                    }
                )
                for a in data["assertions"]
            ),
            tuple(RuleInfo(**r) for r in data["rules"]),
            data["base_uri"],
            tuple((str(p), str(u)) for p, u in data["namespaces"]),
            tuple((str(n), str(e)) for n, e in data["lifted"]),
            data["version"],
            tuple(int(n) for n in data.get("subordinate", ())),
            tuple(str(w) for w in data.get("warnings", ())),
        )


def build_catalogue(schema: Schema, generated: Generated) -> Catalogue:
    assertions = []
    for a in schema.assertions:
        diagnostics = []
        for ref in a.diagnostics:
            found = schema.diagnostics.get(ref)
            if found is None:
                diagnostics.append((ref, "", False))
            else:
                dynamic = not is_static(found.message)
                text = "" if dynamic else static_text(found.message)
                diagnostics.append((found.shown, text, dynamic))
        dynamic = not is_static(a.message)
        assertions.append(
            AssertionInfo(
                a.kind,
                a.test,
                a.id,
                a.role,
                a.flag,
                a.see,
                a.owner,
                a.ordinal,
                a.in_rule,
                a.rule_size,
                "" if dynamic else static_text(a.message),
                dynamic,
                tuple(diagnostics),
            )
        )
    rules = tuple(RuleInfo(r.context, r.id, r.pattern, r.role, r.flag) for r in schema.rules)
    return Catalogue(
        schema.title,
        schema.query_binding,
        tuple(assertions),
        rules,
        schema.base_uri,
        tuple(sorted(schema.namespaces.items())),
        generated.lifted,
        generated.version,
        generated.subordinate,
        generated.warnings,
    )
