"""FHIR reading, writing and FHIRPath, on fhir.resources (R4B models) and fhirpathpy."""
