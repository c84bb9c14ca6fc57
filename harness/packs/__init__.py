"""Packs: official artefacts (schemas, schematrons, FHIR packages) installed into a local,
hashed, offline store, so every result records exactly which versions judged it."""
