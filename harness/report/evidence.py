"""Write every exchange's bodies as evidence files, and the SHA-256 manifest of a run."""

from __future__ import annotations

import hashlib
from pathlib import Path

from harness.model.result import RunResult


def write_evidence(run: RunResult, directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for case in run.cases:
        for step in case.steps:
            for exchange in step.exchanges:
                sent_name = exchange.evidence.get("S")
                if sent_name:
                    body = exchange.sent_by_kcert or f"{exchange.method} {exchange.url}\n".encode()
                    path = directory / sent_name
                    path.write_bytes(body)
                    written.append(path)
                received_name = exchange.evidence.get("R")
                if received_name:
                    path = directory / received_name
                    path.write_bytes(exchange.received_by_kcert)
                    written.append(path)
            if step.answer is not None:
                for attachment in step.answer.attachments:
                    path = directory / attachment_name(case.case.id, step.step.id, attachment.name)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(attachment.data)
                    written.append(path)
            for artifact in step.artifacts:
                path = directory / artifact_name(case.case.id, step.step.id, artifact.name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(artifact.data)
                written.append(path)
    return written


def attachment_name(case_id: str, step_id: str, name: str) -> str:
    """attachments/<case>.<step>_<file name>: the tester's file, kept under its own name."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in Path(name).name)
    return f"attachments/{case_id}.{step_id}_{safe or 'attachment'}"


def artifact_name(case_id: str, step_id: str, name: str) -> str:
    """artifacts/<case>.<step>/<file name>: a step's file for a person, under its own name."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in Path(name).name)
    step = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in f"{case_id}.{step_id}")
    return f"artifacts/{step}/{safe.lstrip('.') or 'artifact'}"


def write_manifest(run_dir: Path, name: str = "manifest.sha256") -> Path:
    """sha256sum-compatible: `sha256sum -c manifest.sha256` checks the run offline."""
    lines = []
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and p.name != name):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(run_dir).as_posix()}")
    target = run_dir / name
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target
