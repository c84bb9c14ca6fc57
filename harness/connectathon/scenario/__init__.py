"""Connectathon scenarios: multi-system YAML files under testcases/connectathon/."""
