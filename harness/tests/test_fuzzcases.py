"""contract-fuzz cases generated once per contract version and seed, replayed from kcert's cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis

from harness.runner import fuzzcases
from harness.runner.contract_fuzz import CONTRACT
from harness.runner.fuzzcases import UnknownOperation, fuzz_cases, serialise

OPS = ["GET /kcert-agent/v1/profiles/{profileId}/members", "POST /kcert-agent/v1/population"]


@pytest.fixture(scope="module")
def schema() -> Any:
    return schemathesis.openapi.from_path(CONTRACT)


def plain(cases: dict[str, list[Any]]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for label, batch in cases.items():
        out[label] = [{k: v for k, v in serialise(c).items() if k != "meta"} for c in batch]
        for case, data in zip(batch, out[label], strict=True):
            meta = case.meta.to_dict() if case.meta is not None else None
            data["mode"] = meta and meta["generation"]["mode"]
    return out


class Counting:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = fuzzcases.generate

        def counted(*args: Any) -> list[dict[str, Any]]:
            self.calls += 1
            return real(*args)

        monkeypatch.setattr(fuzzcases, "generate", counted)


def test_cases_are_generated_once_and_replayed(
    schema: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = Counting(monkeypatch)
    contract = CONTRACT.read_bytes()
    first = fuzz_cases(schema, contract, OPS, 4, 7, tmp_path)
    assert count.calls == len(OPS) and len(list(tmp_path.glob("*.json"))) == 1
    again = fuzz_cases(schema, contract, OPS, 4, 7, tmp_path)
    assert count.calls == len(OPS)  # from the cache
    assert plain(again) == plain(first) and all(first[label] for label in OPS)
    # the same seed generates the same cases without any cache (what the cache stands for)
    fresh = fuzz_cases(schema, contract, OPS, 4, 7, tmp_path / "elsewhere")
    assert plain(fresh) == plain(first)
    case = again[OPS[0]][0]
    assert case.meta is not None
    assert case.operation.path == "/kcert-agent/v1/profiles/{profileId}/members"


def test_a_changed_contract_or_seed_generates_afresh(
    schema: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = Counting(monkeypatch)
    contract = CONTRACT.read_bytes()
    fuzz_cases(schema, contract, OPS[:1], 3, 7, tmp_path)
    fuzz_cases(schema, contract + b"\n# a new version\n", OPS[:1], 3, 7, tmp_path)
    assert count.calls == 2
    fuzz_cases(schema, contract, OPS[:1], 3, 8, tmp_path)
    assert count.calls == 3
    fuzz_cases(schema, contract, OPS[:1], 3, 7, tmp_path)
    assert count.calls == 3 and len(list(tmp_path.glob("*.json"))) == 3


def test_a_damaged_or_oversized_entry_is_generated_again(
    schema: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = Counting(monkeypatch)
    contract = CONTRACT.read_bytes()
    expected = plain(fuzz_cases(schema, contract, OPS[:1], 3, 7, tmp_path))
    (entry,) = tmp_path.glob("*.json")
    for damage in (b"{not json", b'{"format": "kcert-fuzz-1", "cases": {"x": 1}}', b" " * 99):
        entry.write_bytes(damage)
        assert plain(fuzz_cases(schema, contract, OPS[:1], 3, 7, tmp_path)) == expected
    monkeypatch.setattr(fuzzcases, "MAX_FILE_BYTES", 10)
    assert plain(fuzz_cases(schema, contract, OPS[:1], 3, 7, tmp_path)) == expected
    assert count.calls == 5


def test_the_cache_folder_is_bounded(
    schema: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fuzzcases, "MAX_FILES", 2)
    contract = CONTRACT.read_bytes()
    for seed in range(4):
        fuzz_cases(schema, contract, OPS[:1], 2, seed, tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_an_unknown_operation_is_named(schema: Any, tmp_path: Path) -> None:
    with pytest.raises(UnknownOperation, match="GET /nowhere"):
        fuzz_cases(schema, CONTRACT.read_bytes(), ["GET /nowhere"], 2, 1, tmp_path)


def test_the_cache_lives_in_kcerts_cache_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCERT_CACHE", str(tmp_path))
    assert fuzzcases.cache_dir() == tmp_path / "fuzz"
