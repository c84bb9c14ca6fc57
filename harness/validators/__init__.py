"""Validators driven by installed packs: XML Schema (CDA, OIOXML), Schematron, FHIR profiles;
`documents.DocumentValidator` runs every applicable one per file (`kcert validate`)."""
