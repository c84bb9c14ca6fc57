"""Expectation checks: registered functions that yield findings about one step's exchange."""

from harness.checks import (  # noqa: F401  (registration)
    ack,
    agent,
    careplan,
    cockpit,
    contract,
    fhir_checks,
    http,
    pro,
    sendside,
)
from harness.checks.registry import CHECKS, CheckContext, CheckFunc

__all__ = ["CHECKS", "CheckContext", "CheckFunc"]
