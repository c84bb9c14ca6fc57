"""The reference LPS: a conformant simulator of a general-practice system, with named defects.

It is an independent implementation of the SUT side. It must never import kcert's runner,
checks, loader or reports (an import-linter contract holds that line).
"""
