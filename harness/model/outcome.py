"""Outcomes, MedCom severities and run verdicts, each with one precedence."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum


class Outcome(Enum):
    """Result of a step, test case, protocol or run; higher rank wins in a roll-up.

    NOT_IN_SCOPE ("Ikke omfattet"): a test case needs a standard, direction or operation the
    SUT does not declare. It is not run and not judged; it ranks lowest, so one case in scope
    decides a roll-up and a protocol is "not in scope" only when all its cases are.
    """

    NOT_IN_SCOPE = "not-in-scope"
    PASS = "pass"
    SKIP = "skip"
    PENDING = "pending"
    FAIL = "fail"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _OUTCOME_ORDER.index(self)

    @staticmethod
    def worst(outcomes: Iterable[Outcome], default: Outcome | None = None) -> Outcome:
        """Roll up: error > fail > pending > skip > pass > not-in-scope."""
        found = list(outcomes)
        if not found:
            return default if default is not None else Outcome.PASS
        return max(found, key=lambda o: o.rank)


_OUTCOME_ORDER = [
    Outcome.NOT_IN_SCOPE,
    Outcome.PASS,
    Outcome.SKIP,
    Outcome.PENDING,
    Outcome.FAIL,
    Outcome.ERROR,
]


class Severity(Enum):
    """MedCom's assessment scale; F1-F3 block approval, F4 and OK do not."""

    F1 = "F1"
    F2 = "F2"
    F3 = "F3"
    F4 = "F4"
    OK = "OK"

    @property
    def blocks_approval(self) -> bool:
        return self in (Severity.F1, Severity.F2, Severity.F3)

    @property
    def rank(self) -> int:
        # F1 is the gravest, so it ranks highest.
        return {"OK": 0, "F4": 1, "F3": 2, "F2": 3, "F1": 4}[self.value]

    @staticmethod
    def gravest(severities: Iterable[Severity]) -> Severity:
        found = list(severities)
        return max(found, key=lambda s: s.rank) if found else Severity.OK

    @staticmethod
    def parse(value: str) -> Severity:
        try:
            return Severity(value.upper())
        except ValueError:
            raise ValueError(
                f"Expected a MedCom severity F1, F2, F3, F4 or OK but got {value!r}"
            ) from None


class Verdict(Enum):
    """The certification verdict of a whole run."""

    GODKENDT = "godkendt"
    IKKE_GODKENDT = "ikke-godkendt"
    AFVENTER = "afventer"
    FEJL = "fejl"

    @property
    def exit_code(self) -> int:
        # Afventer is neither pass nor fail: its own code, so CI can tell "awaits a tester".
        return {"godkendt": 0, "ikke-godkendt": 1, "afventer": 3, "fejl": 2}[self.value]
