"""The engine: runs protocols against a SUT through a transport. Never imports pytest."""

from harness.runner import (  # noqa: F401  (registration)
    actions,
    careplan_actions,
    cockpit_actions,
    contract_fuzz,
    sendside_actions,
)
