"""FHIRPath evaluation with compiled, cached expressions and readable errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import fhirpathpy
from fhirpathpy.models import models


class FhirPathError(ValueError):
    """A FHIRPath expression could not be compiled or evaluated; the text names it."""


@lru_cache(maxsize=512)
def compile_expression(expression: str) -> Callable[[Any, Any], list[Any]]:
    try:
        compiled: Callable[[Any, Any], list[Any]] = fhirpathpy.compile(expression, models["r4"])
        return compiled
    except Exception as exc:  # fhirpathpy raises bare Exceptions
        raise FhirPathError(f"cannot compile FHIRPath {expression!r}: {exc}") from None


def evaluate(resource: Any, expression: str, env: dict[str, Any] | None = None) -> list[Any]:
    """Evaluate `expression` on `resource`; `env` provides %variables."""
    func = compile_expression(expression)
    try:
        result = func(resource, dict(env or {}))
    except Exception as exc:
        raise FhirPathError(f"FHIRPath {expression!r} failed: {exc}") from None
    return list(result)


def truthy(result: list[Any]) -> bool:
    """FHIRPath boolean reading of a result: a single true, or a non-empty non-boolean."""
    if not result:
        return False
    if len(result) == 1 and isinstance(result[0], bool):
        return result[0]
    return True
