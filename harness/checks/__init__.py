"""Expectation checks: registered functions that yield findings about one step's exchange."""

from harness.checks import (  # noqa: F401  (registration)
    agent,
    contract,
    fhir_checks,
    http,
    sendside,
)
from harness.checks.registry import CHECKS, CheckContext, CheckFunc

__all__ = ["CHECKS", "CheckContext", "CheckFunc"]
