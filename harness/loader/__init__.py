"""Protocol files: YAML under testcases/, validated against a JSON Schema at collection."""
