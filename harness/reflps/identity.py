"""Who the reference LPS is: a synthetic clinic with SOR and GLN numbers, and its version."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version


def software_version() -> str:
    """The version of the kcert distribution the reference LPS ships in: read from the
    installed package's metadata, so the reference LPS needs no kcert module for it."""
    try:
        return version("kcert")
    except PackageNotFoundError:  # run from a tree that was never installed
        return "0+unknown"


@dataclass(frozen=True)
class ClinicIdentity:
    sor: str
    gln: str
    name: str

    @property
    def endpoint(self) -> str:
        return f"https://sor2.sum.dsdn.dk/#id={self.sor}"


# Synthetic numbers; the GLN carries a valid GS1 check digit.
REFERENCE_CLINIC = ClinicIdentity(
    sor="999991000016008", gln="5790000999996", name="Lægehuset Reference (kcert)"
)
