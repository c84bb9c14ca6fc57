"""Thin on purpose: kcert's pytest plugin loads through its entry point, harness.pytest_plugin."""
