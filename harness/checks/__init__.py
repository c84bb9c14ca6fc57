"""Expectation checks: registered functions that yield findings about one step's exchange."""

from harness.checks import ack, agent, cockpit, fhir_checks, http  # noqa: F401  (registration)
from harness.checks.registry import CHECKS, CheckContext, CheckFunc

__all__ = ["CHECKS", "CheckContext", "CheckFunc"]
