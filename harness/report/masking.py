"""The record of masked evidence: which files hold masked (or withheld) SUT bytes, and the
SHA-256 of the original bytes, so a reader can tell a masked file from a tampered one."""

from __future__ import annotations

from pathlib import Path

from harness.model.result import RunResult

MASKING_FILE = "masked-originals.tsv"


def write_masking_record(run: RunResult, evidence_dir: Path) -> Path | None:
    """evidence/masked-originals.tsv: file, masked or withheld, SHA-256 of the original bytes.

    Not sha256sum input on purpose: the files no longer hold the original bytes. Written only
    when something was masked; the run manifest then covers it like any other file.
    """
    lines: list[str] = ["evidence\thow\tsha256_of_original"]
    for case in run.cases:
        for step in case.steps:
            for exchange in step.exchanges:
                for direction, digest in sorted(exchange.masked.items()):
                    how = "withheld" if direction in exchange.withheld else "masked"
                    name = exchange.evidence.get(direction, "")
                    lines.append(f"{name or '-'}\t{how}\t{digest}")
    if len(lines) == 1:
        return None
    evidence_dir.mkdir(parents=True, exist_ok=True)
    target = evidence_dir / MASKING_FILE
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target
