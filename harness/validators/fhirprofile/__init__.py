"""FHIR profile validation driven by the StructureDefinition snapshots of installed packages."""

from harness.validators.fhirprofile.index import ProfileIndex
from harness.validators.fhirprofile.packages import Package, PackageError, read_package
from harness.validators.fhirprofile.validator import ProfileValidator

__all__ = ["Package", "PackageError", "ProfileIndex", "ProfileValidator", "read_package"]
