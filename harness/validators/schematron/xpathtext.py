"""Just enough lexical knowledge of XPath for code generation: literals, variables, predicates.

No full parser: the generator only needs to know which variables an expression reads (to pass
them to an abstract rule's template) and what kinds of node a rule context can match (to avoid
visiting attributes and text nodes in patterns that never match them).
"""

from __future__ import annotations

import functools
import re

_STRING = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_COMMENT = re.compile(r"\(:.*?:\)", re.DOTALL)
_NAME = r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
_VARIABLE = re.compile(r"\$\s*(" + _NAME + ")")
# Variables bound inside the expression itself are not free: range variables (for, some,
# every, let, and the further ones after a comma), positional `at $i`, and the parameters of
# inline functions. Any binding anywhere counts, so a name is never reported free by mistake.
_BOUND = re.compile(
    r"\b(?:for|some|every|let|at)\s+\$\s*(" + _NAME + r")"
    r"|,\s*\$\s*(" + _NAME + r")\s*(?:\bin\b|:=|\bat\b)"
)
_FUNCTION_PARAMS = re.compile(r"\bfunction\s*\(([^)]*)\)")
_ATTRIBUTE_STEP = re.compile(r"@|\battribute\s*::|\battribute\s*\(|\bnode\s*\(")
_OTHER_NODE_STEP = re.compile(
    r"\btext\s*\(|\bcomment\s*\(|\bprocessing-instruction\s*\(|\bnode\s*\(|\bnamespace-node\s*\("
)


def quote(text: str) -> str:
    """An XPath string literal for any text (XPath 2+ doubles the quote to escape it)."""
    return "'" + text.replace("'", "''") + "'"


def without_strings(expr: str) -> str:
    return _STRING.sub("''", expr)


def avt(text: str) -> str:
    """Text for an attribute value template that must come out literally."""
    return text.replace("{", "{{").replace("}", "}}")


@functools.lru_cache(maxsize=65536)
def _free(expr: str) -> frozenset[str]:
    code = _COMMENT.sub(" ", without_strings(expr))
    bound = {a or b for a, b in _BOUND.findall(code)}
    for params in _FUNCTION_PARAMS.findall(code):
        bound.update(_VARIABLE.findall(params))
    return frozenset(set(_VARIABLE.findall(code)) - bound)


def free_variables(expr: str) -> set[str]:
    """Variables an expression reads that it does not bind itself."""
    return set(_free(expr)) if "$" in expr else set()


def without_predicates(expr: str) -> str:
    """The expression with every [...] predicate (and string literal) removed."""
    code = without_strings(expr)
    out: list[str] = []
    depth = 0
    for char in code:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(char)
    return "".join(out)


def may_match_attributes(context: str) -> bool:
    """Whether a rule context can match attribute nodes (predicates do not count)."""
    return bool(_ATTRIBUTE_STEP.search(without_predicates(context)))


def may_match_other_nodes(context: str) -> bool:
    """Whether a rule context can match text, comment or PI nodes."""
    return bool(_OTHER_NODE_STEP.search(without_predicates(context)))


def _top_level_split(expr: str, separator: str) -> list[tuple[int, int]]:
    """Spans of `expr` between top-level occurrences of a one-character separator."""
    spans: list[tuple[int, int]] = []
    depth = 0
    quote: str | None = None
    start = 0
    for index, char in enumerate(expr):
        if quote is not None:
            if char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == separator and depth == 0:
            spans.append((start, index))
            start = index + 1
    spans.append((start, len(expr)))
    return spans


def last_step_predicates(context: str) -> tuple[str, list[str]] | None:
    """Split `a/b/c[p][q]` into ("a/b/c", ["p", "q"]); None for unions or odd shapes."""
    if len(_top_level_split(context, "|")) > 1:
        return None
    code = context.rstrip()
    predicates: list[str] = []
    while code.endswith("]"):
        depth = 0
        quote: str | None = None
        opening = -1
        for index in range(len(code) - 1, -1, -1):
            char = code[index]
            if quote is not None:
                if char == quote:
                    quote = None
            elif char in "'\"":
                quote = char
            elif char == "]":
                depth += 1
            elif char == "[":
                depth -= 1
                if depth == 0:
                    opening = index
                    break
        if opening <= 0:
            return None
        predicates.insert(0, code[opening + 1 : -1])
        code = code[:opening].rstrip()
    if not code or code.endswith(("/", ")")) or not predicates:
        return None
    return code, predicates
