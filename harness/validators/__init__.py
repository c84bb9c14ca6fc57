"""Validators: XML Schema (and later Schematron) checks driven by installed packs."""
