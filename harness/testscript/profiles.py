"""The FHIR packages behind `validateProfileId`: installed packs or `--package` files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness.packs.store import PackStore
from harness.validators.fhirprofile import PackageError, ProfileIndex, ProfileValidator

PACK_KIND = "fhir-package"


class ProfileSource:
    """Builds the profile index on first use (it is costly), from the given package paths."""

    def __init__(self, paths: list[Path], packs: list[dict[str, str]]) -> None:
        self.paths = paths
        self.packs = packs  # id, version, kind, sha256: what the run report records
        self._validator: ProfileValidator | None = None
        self._problem = ""

    @classmethod
    def from_files(cls, files: list[Path]) -> ProfileSource:
        packs = [
            {
                "id": f.stem,
                "version": "",
                "kind": PACK_KIND,
                "sha256": hashlib.sha256(f.read_bytes()).hexdigest(),
            }
            for f in files
        ]
        return cls(list(files), packs)

    @classmethod
    def from_store(cls, store: PackStore | None = None) -> ProfileSource:
        installed = (store or PackStore()).of_kind(PACK_KIND)
        return cls([p.root for p in installed], [p.summary() for p in installed])

    @classmethod
    def none(cls) -> ProfileSource:
        return cls([], [])

    def validator(self) -> ProfileValidator | None:
        """None when no FHIR package is available; raises ValueError when one is unreadable."""
        if not self.paths:
            return None
        if self._problem:
            raise ValueError(self._problem)
        if self._validator is None:
            try:
                self._validator = ProfileValidator(ProfileIndex.from_packages(self.paths))
            except PackageError as exc:
                self._problem = f"FHIR package unusable: {exc}"
                raise ValueError(self._problem) from None
        return self._validator
