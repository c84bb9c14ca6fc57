"""The oracle: computes the expected cockpit lists and colours from a rule pack, never asking the SUT."""
