"""Validators driven by installed packs: XML Schema (CDA, OIOXML), Schematron, FHIR profiles;
`documents.DocumentValidator` runs every applicable one per file (`kcert validate`).

Every validator has one shape, `iter_findings(document, context) -> Iterator[Finding]`, with a
`ValidatorContext` for what else goes in and what comes out besides findings (api.py)."""
