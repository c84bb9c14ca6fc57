"""The oracle: expected cockpit lists and colours from a rule pack; it never asks the SUT."""
