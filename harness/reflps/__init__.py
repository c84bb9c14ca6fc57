"""The reference LPS: a conformant simulator of a general-practice system, with named defects.

It is an independent implementation of the SUT side: it imports only harness.safeparse and its
own modules (an import-linter contract and harness/tests/test_contracts.py hold that line).
"""
