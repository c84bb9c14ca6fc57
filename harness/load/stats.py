"""Locust's CSV files read back as plain data (`read_stats`).

Locust (2.47, `--csv PREFIX --csv-full-history`) leaves `<prefix>_stats.csv` (one row per
request name and an "Aggregated" row: counts, response times in ms, rates, percentiles),
`<prefix>_stats_history.csv` (a row per second per name and the aggregate: the user count,
the current rates and percentiles of Locust's sliding window, and the cumulative totals) and
`<prefix>_failures.csv` (Method, Name, Error, Occurrences). The swarm names each request by
its operation id, so a row's name is an operation id of `harness.load.model`.

Every file is read bounded (`MAX_FILE_BYTES`); a malformed row is a `StatsError` naming
`file:line`. Only the stats file must exist: a run stopped early may leave no history and no
failures.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_FILE_BYTES = 64 * 1024 * 1024  # a long soak's history: ~7 names × 250 B per second
MAX_MESSAGE = 500  # of one quoted failure message
AGGREGATED = "Aggregated"
PERCENTILES = ("50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "100%")


class StatsError(ValueError):
    """A Locust CSV file that cannot be read as Locust writes it; str is `file:line: reason`."""


@dataclass(frozen=True)
class OpStats:
    """One row of `_stats.csv`: a request name (an operation id) or the aggregate."""

    name: str
    method: str
    requests: int
    failures: int
    median_ms: float | None
    average_ms: float | None
    min_ms: float | None
    max_ms: float | None
    rate_per_s: float
    failures_per_s: float
    percentiles: dict[str, float | None] = field(default_factory=dict)  # "95%" -> ms

    def percentile(self, key: str) -> float | None:
        return self.percentiles.get(key)

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


@dataclass(frozen=True)
class HistoryRow:
    """One row of `_stats_history.csv`: one name (or the aggregate) at one second."""

    at: int  # Unix time, seconds
    users: int
    name: str
    rate_per_s: float  # Locust's current (sliding-window) rate
    failures_per_s: float
    percentiles: dict[str, float | None]  # the window's, ms; None before the first answer
    total_requests: int  # cumulative
    total_failures: int


@dataclass(frozen=True)
class FailureRow:
    method: str
    name: str
    error: str  # Locust's text of the failure (the service's own message inside it)
    occurrences: int


@dataclass(frozen=True)
class LoadStats:
    operations: dict[str, OpStats]  # by request name, without the aggregate
    aggregate: OpStats | None
    history: tuple[HistoryRow, ...] = ()
    failures: tuple[FailureRow, ...] = ()
    files: tuple[Path, ...] = ()  # the CSV files read (kept as evidence)

    @staticmethod
    def empty() -> LoadStats:
        """No load was sent (a failed preflight): nothing measured."""
        return LoadStats({}, None)

    def history_of(self, name: str) -> list[HistoryRow]:
        return [row for row in self.history if row.name == name]

    def failures_of(self, name: str) -> list[FailureRow]:
        return sorted((f for f in self.failures if f.name == name), key=lambda f: -f.occurrences)

    def plateau(self) -> tuple[int, int] | None:
        """The seconds (first, last) the most users ran: the shape's plateau, not its ramp."""
        rows = self.history_of(AGGREGATED)
        if not rows:
            return None
        top = max(row.users for row in rows)
        if top <= 0:
            return None
        at = [row.at for row in rows if row.users == top]
        return (min(at), max(at))

    def plateau_rate(self, name: str) -> float | None:
        """Requests per second of `name` over the plateau, from the cumulative counts (the
        window rates lag); None when the history cannot tell (under two plateau seconds)."""
        span = self.plateau()
        if span is None or span[1] <= span[0]:
            return None
        totals = {row.at: row.total_requests for row in self.history_of(name)}
        before = [at for at in totals if at <= span[0]]
        # no row yet at the plateau's start: the name had sent nothing before it
        first, first_total = (max(before), totals[max(before)]) if before else (span[0], 0)
        upto = [at for at in totals if at <= span[1]]
        if not upto or max(upto) <= first:
            return None
        last = max(upto)
        return (totals[last] - first_total) / (last - first)


def read_stats(csv_prefix: Path) -> LoadStats:
    """The CSV files Locust wrote under `csv_prefix` (its `--csv` argument)."""
    stats_file = Path(f"{csv_prefix}_stats.csv")
    if not stats_file.is_file():
        raise StatsError(f"{stats_file}: Locust left no stats file")
    operations: dict[str, OpStats] = {}
    aggregate: OpStats | None = None
    for _line, row, where in _rows(stats_file, ("Name", "Request Count", "Failure Count")):
        op = OpStats(
            name=row["Name"],
            method=row.get("Type", ""),
            requests=_int(row, "Request Count", where),
            failures=_int(row, "Failure Count", where),
            median_ms=_ms(row, "Median Response Time", where),
            average_ms=_ms(row, "Average Response Time", where),
            min_ms=_ms(row, "Min Response Time", where),
            max_ms=_ms(row, "Max Response Time", where),
            rate_per_s=_float(row, "Requests/s", where),
            failures_per_s=_float(row, "Failures/s", where),
            percentiles={p: _ms(row, p, where) for p in PERCENTILES if p in row},
        )
        if op.name == AGGREGATED and not op.method:
            aggregate = op
        elif op.name in operations:
            raise StatsError(f"{where}: Name: {op.name!r} twice (one name per operation)")
        else:
            operations[op.name] = op
    files = [stats_file]
    history: list[HistoryRow] = []
    history_file = Path(f"{csv_prefix}_stats_history.csv")
    if history_file.is_file():
        files.append(history_file)
        for _line, row, where in _rows(history_file, ("Timestamp", "User Count", "Name")):
            history.append(
                HistoryRow(
                    at=_int(row, "Timestamp", where),
                    users=_int(row, "User Count", where),
                    name=row["Name"],
                    rate_per_s=_float(row, "Requests/s", where),
                    failures_per_s=_float(row, "Failures/s", where),
                    percentiles={p: _ms(row, p, where) for p in PERCENTILES if p in row},
                    total_requests=_int(row, "Total Request Count", where),
                    total_failures=_int(row, "Total Failure Count", where),
                )
            )
    failures: list[FailureRow] = []
    failures_file = Path(f"{csv_prefix}_failures.csv")
    if failures_file.is_file():
        files.append(failures_file)
        for _line, row, where in _rows(failures_file, ("Name", "Error", "Occurrences")):
            failures.append(
                FailureRow(
                    method=row.get("Method", ""),
                    name=row["Name"],
                    error=row["Error"][:MAX_MESSAGE],
                    occurrences=_int(row, "Occurrences", where),
                )
            )
    return LoadStats(operations, aggregate, tuple(history), tuple(failures), tuple(files))


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str], str]]:
    """(line, row, "file:line") of a Locust CSV file, its header checked."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise StatsError(f"{path}:1: the file is {size} bytes, more than {MAX_FILE_BYTES}")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise StatsError(f"{path}:1: not UTF-8 text ({exc.reason})") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise StatsError(f"{path}:1: empty (no header row)") from None
    except csv.Error as exc:
        raise StatsError(f"{path}:1: {exc}") from None
    missing = [name for name in required if name not in header]
    if missing:
        raise StatsError(f"{path}:1: header: no column {', '.join(missing)}")
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise StatsError(f"{path}:{reader.line_num}: {exc}") from None
        where = f"{path}:{reader.line_num}"
        if not cells:
            continue
        if len(cells) != len(header):
            raise StatsError(f"{where}: {len(cells)} cells, the header has {len(header)}")
        yield reader.line_num, dict(zip(header, cells, strict=True)), where


def _float(row: dict[str, str], key: str, where: str) -> float:
    value = _ms(row, key, where)
    return 0.0 if value is None else value


def _ms(row: dict[str, str], key: str, where: str) -> float | None:
    """A number of the row, None where Locust writes N/A (nothing measured yet)."""
    text = row.get(key, "").strip()
    if text in ("", "N/A"):
        return None
    try:
        value = float(text)
    except ValueError:
        raise StatsError(f"{where}: {key}: {text!r} is not a number") from None
    if value != value or value < 0:  # NaN or negative: not a time, count or rate
        raise StatsError(f"{where}: {key}: {text!r} is not a measure")
    return value


def _int(row: dict[str, str], key: str, where: str) -> int:
    text = row.get(key, "").strip()
    try:
        value = int(text)
    except ValueError:
        raise StatsError(f"{where}: {key}: {text!r} is not a whole number") from None
    if value < 0:
        raise StatsError(f"{where}: {key}: {text!r} is negative")
    return value
