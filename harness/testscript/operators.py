"""TestScript assert operators over strings, as TestScript compares values."""

from __future__ import annotations

from typing import Any

OPERATORS = (
    "equals",
    "notEquals",
    "in",
    "notIn",
    "greaterThan",
    "lessThan",
    "empty",
    "notEmpty",
    "contains",
    "notContains",
    "eval",
)


class UnknownOperator(ValueError):
    """The assert names an operator TestScript does not define."""


def text_of(values: list[Any]) -> str:
    """One comparable string for a result list: items joined by commas."""
    return ",".join(_text(v) for v in values)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def compare(operator: str, actual: list[Any], expected: str) -> bool:
    """Whether `actual` (a result list) stands in `operator` to `expected`."""
    if operator == "empty":
        return not [v for v in actual if v not in ("", None)]
    if operator == "notEmpty":
        return bool([v for v in actual if v not in ("", None)])
    text = text_of(actual)
    if operator == "equals":
        return text == expected
    if operator == "notEquals":
        return text != expected
    if operator in ("in", "notIn"):
        allowed = [v.strip() for v in expected.split(",")]
        inside = bool(actual) and all(_text(v) in allowed for v in actual)
        return inside if operator == "in" else not inside
    if operator in ("greaterThan", "lessThan"):
        left, right = _number(text), _number(expected)
        if left is not None and right is not None:
            return left > right if operator == "greaterThan" else left < right
        return text > expected if operator == "greaterThan" else text < expected
    if operator == "contains":
        return expected in text
    if operator == "notContains":
        return expected not in text
    raise UnknownOperator(
        f"unknown operator {operator!r}; TestScript defines {', '.join(OPERATORS)}"
    )


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
