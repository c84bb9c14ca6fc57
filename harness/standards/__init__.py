"""The standards kcert tests, one folder each, registered here.

A standard's folder holds its checks module(s), its rule ids with Danish/English titles, its
message kind(s), the native versions of its profile invariants and its defects' catalogue
entries; its `__init__` describes it as a `Standard` and registers it (`register`), which files
all of that in the registries the engine reads (`CHECKS`, the rules catalogue, the message
kinds, the natives). Its protocols stay under `testcases/` and its templates under `fixtures/`;
the `Standard` names them. Importing this package registers every standard: the loader, the
report and the front doors import it. See harness/ARCHITECTURE.md, "How to add a standard".
"""

# The registration list: one line per standard.
from harness.standards import (
    acknowledgement,  # noqa: F401
    carecommunication,  # noqa: F401
    careplan,  # noqa: F401
    cockpit,  # noqa: F401
    hospitalnotification,  # noqa: F401
    qrd,  # noqa: F401
    referral,  # noqa: F401
)
from harness.standards.model import DefectEntry, Standard
from harness.standards.registry import STANDARDS, StandardError, Standards, register

__all__ = ["STANDARDS", "DefectEntry", "Standard", "StandardError", "Standards", "register"]
