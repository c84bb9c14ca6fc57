"""kcert: conformance-test and certification harness for Danish general-practice systems."""

__version__ = "0.1.0"
