"""Transports reach the SUT and record every exchange as evidence."""
