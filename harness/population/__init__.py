"""Test populations and clinic extracts: the documented format, its readers, generators, faults."""
