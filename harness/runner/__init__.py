"""The engine: runs protocols against a SUT through a transport. Never imports pytest."""

from harness.runner import actions, cockpit_actions, contract_fuzz  # noqa: F401  (registration)
