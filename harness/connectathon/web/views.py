"""Page data built from the store's rows: the matrix table, the worklist, shown bodies."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from harness.checks.realcpr import mask_real_cprs, mask_text
from harness.connectathon.model import MatrixCell, RecordedExchange, System, TestInstance
from harness.redact import redact_headers


def cell_key(cell: MatrixCell) -> str:
    return f"{cell.system_id}|{cell.scenario_id}|{cell.role}"


def cell_json(cell: MatrixCell) -> dict[str, Any]:
    data = asdict(cell)
    data["partners_used"] = list(cell.partners_used)
    data["key"] = cell_key(cell)
    return data


@dataclass(frozen=True)
class MatrixRow:
    system: System | None
    system_id: str
    role: str
    cells: tuple[MatrixCell | None, ...]  # one per scenario column


@dataclass(frozen=True)
class MatrixTable:
    scenarios: tuple[str, ...]
    rows: tuple[MatrixRow, ...]


def matrix_table(
    cells: Iterable[MatrixCell],
    scenarios: Sequence[str],
    systems: Sequence[System],
    visible: set[str] | None,
) -> MatrixTable:
    """Rows system × role, columns scenario; `visible` None shows every system."""
    shown = [c for c in cells if visible is None or c.system_id in visible]
    columns = list(dict.fromkeys([*scenarios, *(c.scenario_id for c in shown)]))
    by_id = {s.system_id: s for s in systems}
    grid: dict[tuple[str, str], dict[str, MatrixCell]] = {}
    for cell in shown:
        grid.setdefault((cell.system_id, cell.role), {})[cell.scenario_id] = cell
    rows = [
        MatrixRow(
            by_id.get(system_id),
            system_id,
            role,
            tuple(grid[(system_id, role)].get(s) for s in columns),
        )
        for system_id, role in sorted(grid)
    ]
    return MatrixTable(tuple(columns), tuple(rows))


def worklist(
    instances: Iterable[TestInstance],
) -> tuple[list[TestInstance], list[TestInstance]]:
    """(waiting for a grade, graded only by kcert): what the monitors still have to do.

    Read from the instances alone (no grades per instance: the page stays quick with
    hundreds): every grading act by a person takes the instance (routes_grading), so an
    instance with a grade but nobody's claim has kcert's automatic grade only. Instances
    still pending or running are not on the list.
    """
    waiting: list[TestInstance] = []
    auto: list[TestInstance] = []
    for inst in instances:
        if inst.status in ("pending", "running"):
            continue
        if inst.grade == "waiting":
            waiting.append(inst)
        elif not inst.claimed_by:
            auto.append(inst)
    return waiting, auto


@dataclass(frozen=True)
class ShownBody:
    text: str
    total: int
    shown: int

    @property
    def truncated(self) -> bool:
        return self.shown < self.total


def shown_body(body: bytes, limit: int) -> ShownBody:
    """A recorded body as text for the page: real-format CPRs masked again (the proxy
    already masks; this holds if it did not), cut at `limit` bytes, undecodable bytes shown
    as replacement characters. Jinja escapes the text."""
    part = mask_real_cprs(body[:limit])
    return ShownBody(part.decode("utf-8", "replace"), len(body), min(len(body), limit))


def shown_headers(headers: dict[str, str]) -> list[tuple[str, str]]:
    return sorted((k, mask_text(v)) for k, v in redact_headers(headers).items())


def shown_findings(findings: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {
            "rule": str(f.get("rule", "")),
            "severity": str(f.get("severity", "")),
            "message": mask_text(str(f.get("message", ""))),
            "location": str(f.get("location", "")),
        }
        for f in findings
    ]


def exchange_summary(ex: RecordedExchange) -> dict[str, Any]:
    return {
        "exchange_id": ex.exchange_id,
        "method": ex.method,
        "path": ex.path,
        "status": ex.status,
        "started": ex.started,
        "kind": ex.kind,
        "match": ex.match,
        "findings": len(ex.findings),
        "error": ex.error,
    }
