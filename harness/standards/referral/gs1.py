"""GS1 check digits, as GLN/EAN location numbers carry them."""

from __future__ import annotations


def gs1_check_digit(body: str) -> int:
    """The check digit for the digits before it: weights 3,1,3,… from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def valid_gln(value: str) -> bool:
    """13 digits whose last digit is the GS1 check digit of the first twelve."""
    return len(value) == 13 and value.isdecimal() and gs1_check_digit(value[:-1]) == int(value[-1])
