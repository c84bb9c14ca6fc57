"""The session layer: the SUT lifecycle (`core`) and the one run path (`runpath`)."""

from harness.session.core import CertificationSession, SutChoice

__all__ = ["CertificationSession", "SutChoice"]
