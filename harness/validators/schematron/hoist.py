"""Lift context-free `doc('literal')...` paths out of rules, so value sets are read once.

ART-DECOR schematrons test codes against value sets with expressions such as
`doc('include/voc-X.xml')//valueSet[1]/conceptList/concept/concat(@code, @codeSystem)`, often in
rule contexts, which Saxon then evaluates for every candidate node of every pattern. The same
path gives the same value for every node, so it is replaced by a stylesheet parameter that is
computed once when the schematron is compiled (see compiler.py).
"""

from __future__ import annotations

import re

PARAM_PREFIX = "kcx_h"

_DOC_CALL = re.compile(r"(?<![\w.:\-])(?:fn:)?doc\(\s*('[^']*'|\"[^\"]*\")\s*\)")
_STEP = re.compile(r"(?://?)(?:[\w.\-]+::)?(?:@?[\w.\-]+(?::[\w.\-*]+)?|@?\*(?::[\w.\-]+)?)")


def _matching(text: str, start: int, opening: str, closing: str) -> int:
    """Index just past the bracket that closes text[start]; -1 when unbalanced."""
    depth = 0
    position = start
    while position < len(text):
        char = text[position]
        if char in "'\"":
            end = text.find(char, position + 1)
            if end < 0:
                return -1
            position = end + 1
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return position + 1
        position += 1
    return -1


def _context_free(fragment: str) -> bool:
    # Variables and current() tie a predicate to the rule's context; everything else inside a
    # predicate of a doc() path is relative to the value set's own nodes.
    return "$" not in fragment and "current(" not in fragment


def _path_end(expr: str, start: int) -> int:
    """How far the path that begins with a doc() call can be lifted (steps and predicates).

    A step whose predicate depends on the context stays whole in the rule: split off, its
    positional predicates ([1]) would count across the lifted sequence, not per parent.
    """
    position = start
    step_start = start
    while position < len(expr):
        if expr[position] == "[":
            end = _matching(expr, position, "[", "]")
            if end < 0 or not _context_free(expr[position:end]):
                return step_start
            position = end
            continue
        step = _STEP.match(expr, position)
        if step is None:
            break
        end = step.end()
        if end < len(expr) and expr[end] == "(":  # a node test or a function step
            close = _matching(expr, end, "(", ")")
            if close < 0 or not _context_free(expr[end:close]):
                break
            end = close
        step_start = position
        position = end
    return position


class Hoister:
    """Rewrites expressions, remembering each lifted path under one parameter name."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # lifted expression -> parameter name

    def rewrite(self, expr: str) -> str:
        if "doc(" not in expr:
            return expr
        out: list[str] = []
        position = 0
        while True:
            call = _DOC_CALL.search(expr, position)
            if call is None or _inside_string(expr, call.start()):
                if call is not None:
                    out.append(expr[position : call.end()])
                    position = call.end()
                    continue
                out.append(expr[position:])
                return "".join(out)
            end = _path_end(expr, call.end())
            lifted = expr[call.start() : end]
            name = self.names.setdefault(lifted, f"{PARAM_PREFIX}{len(self.names) + 1}")
            out.append(expr[position : call.start()])
            out.append(f"${name}")
            position = end


def _inside_string(expr: str, index: int) -> bool:
    quote: str | None = None
    for char in expr[:index]:
        if quote is None and char in "'\"":
            quote = char
        elif char == quote:
            quote = None
    return quote is not None
