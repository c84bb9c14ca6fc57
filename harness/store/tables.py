"""The run store's tables (SQLAlchemy Core): portable between SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

SCHEMA_VERSION = 1

metadata = MetaData()

store_info = Table(
    "kcert_store",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(80), primary_key=True),
    Column("status", String(16), nullable=False),  # running | finished
    Column("created", Float, nullable=False),  # wall clock at begin: orders runs of one second
    Column("started", String(40), nullable=False),
    Column("finished", String(40), nullable=False, default=""),
    Column("verdict", String(20), nullable=False, default=""),
    Column("test_type", String(16), nullable=False),
    Column("tester", Text, nullable=False, default=""),
    Column("lang", String(4), nullable=False, default="da"),
    Column("place", Text, nullable=False, default=""),
    Column("suite_version", String(80), nullable=False, default=""),
    Column("sut_name", Text, nullable=False, default=""),
    Column("sut_version", Text, nullable=False, default=""),
    Column("sut", JSON, nullable=False),  # SutInfo as a dict
    Column("choice", JSON, nullable=False),  # how to reach the SUT again (resume)
    Column("protocols", JSON, nullable=False),  # [{path, id, version, sha256}]
    Column("packs", JSON, nullable=False),  # [{id, version, kind, sha256}]
    Column("parent_run", String(80), nullable=False, default=""),
    Column("relation", String(16), nullable=False, default=""),
    Column("run_dir", Text, nullable=False, default=""),
    Column("error", Text, nullable=False, default=""),
)

case_results = Table(
    "case_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(80), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("protocol_id", String(120), nullable=False),
    Column("protocol_version", String(40), nullable=False),
    Column("case_id", String(120), nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("assessment", String(4), nullable=False),
    Column("blocking", Boolean, nullable=False),
    Column("started", String(40), nullable=False),
    Column("duration_ms", Float, nullable=False),
    Column("error", Text, nullable=False, default=""),
    Column("steps", JSON, nullable=False),  # per step: id, outcome, message, duration
    # why the case was not run (outside the SUT's declared scope); added after schema 1 began,
    # so RunStore adds it to older stores (ADDED_COLUMNS)
    Column("not_in_scope", Text, nullable=False, default=""),
    UniqueConstraint("run_id", "protocol_id", "case_id"),
)

findings = Table(
    "findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(80), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("protocol_id", String(120), nullable=False),
    Column("case_id", String(120), nullable=False),
    Column("step_id", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("rule_id", String(120), nullable=False),
    Column("severity", String(4), nullable=False),
    Column("message", Text, nullable=False),
    Column("location", JSON, nullable=False),
    Column("waiver", Text, nullable=False, default=""),
)

exchanges = Table(
    "exchanges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(80), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("protocol_id", String(120), nullable=False),
    Column("case_id", String(120), nullable=False),
    Column("step_id", String(40), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("method", String(16), nullable=False),
    Column("url", Text, nullable=False),
    Column("status", Integer, nullable=True),
    Column("request_headers", JSON, nullable=False),
    Column("request_body", LargeBinary, nullable=False),
    Column("response_headers", JSON, nullable=False),
    Column("response_body", LargeBinary, nullable=False),
    Column("started", String(40), nullable=False, default=""),
    Column("duration_ms", Float, nullable=False, default=0.0),
    Column("error", Text, nullable=False, default=""),
    Column("truncated", Boolean, nullable=False, default=False),
    Column("evidence", JSON, nullable=False),
    Column("inbound", Boolean, nullable=False, default=False),
)

manual_answers = Table(
    "manual_answers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(80), ForeignKey("runs.run_id", ondelete="CASCADE"), nullable=False),
    Column("protocol_id", String(120), nullable=False),
    Column("case_id", String(120), nullable=False),
    Column("step_id", String(40), nullable=False),
    Column("verdict", String(4), nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("tester", Text, nullable=False, default=""),
    Column("answered_at", String(40), nullable=False, default=""),
    UniqueConstraint("run_id", "case_id", "step_id"),
)

# Columns added to a table after stores of this schema version exist: (table, column, SQL type
# and default), added in place when a store is opened. Additive only, so older kcert versions
# still read the store.
ADDED_COLUMNS = (("case_results", "not_in_scope", "TEXT NOT NULL DEFAULT ''"),)

attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "answer_id",
        Integer,
        ForeignKey("manual_answers.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
)
