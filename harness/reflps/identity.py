"""Who the reference LPS is: a synthetic clinic with SOR and GLN numbers."""

from __future__ import annotations

from dataclasses import dataclass


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
