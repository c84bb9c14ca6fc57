"""Synthetic test populations: the documented FHIR format, its reader, validator and generator."""
