"""The connectathon's tables (SQLAlchemy Core), kept in the run store's own database.

Every table is prefixed `cx_` so it lives beside the run store's tables without clashing;
a test instance points at its normal kcert run by `run_id` only (no foreign key: the run
store's tables are the run store's business, and either side can be dropped alone).
Portable between SQLite and PostgreSQL, like harness.store.tables.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    Index,
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

info = Table(
    "cx_info",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

sessions = Table(
    "cx_sessions",
    metadata,
    Column("session_id", String(80), primary_key=True),
    Column("name", Text, nullable=False),
    Column("starts", String(40), nullable=False),
    Column("ends", String(40), nullable=False),
    Column("scenarios", JSON, nullable=False),  # scenario ids in scope
    Column("created", String(40), nullable=False, default=""),
)

# What pairing knew of each scenario in scope (its roles and titles): lets the matrix show a
# registered role that has no instance (no partner available) and the export its titles.
scenarios = Table(
    "cx_scenarios",
    metadata,
    Column("session_id", String(80), primary_key=True),
    Column("scenario_id", String(120), primary_key=True),
    Column("info", JSON, nullable=False),  # ScenarioInfo as a dict
)

systems = Table(
    "cx_systems",
    metadata,
    Column("session_id", String(80), primary_key=True),
    Column("system_id", String(120), primary_key=True),
    Column("vendor", Text, nullable=False),
    Column("product", Text, nullable=False),
    Column("version", Text, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("registration", JSON, nullable=False),
    # the folder of the registration's files (added after schema 1 began: ADDED_COLUMNS)
    Column("files", Text, nullable=False, default=""),
)

instances = Table(
    "cx_instances",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),  # the order pairing gave
    Column("instance_id", String(200), nullable=False, unique=True),
    Column("session_id", String(80), nullable=False),
    Column("scenario_id", String(120), nullable=False),
    Column("bindings", JSON, nullable=False),  # [{role, system_id}]
    Column("status", String(16), nullable=False),
    Column("outcome", String(16), nullable=False, default=""),
    Column("grade", String(16), nullable=False),
    Column("run_id", String(80), nullable=False, default=""),
    Column("patient", JSON, nullable=False),
    Column("claimed_by", Text, nullable=False, default=""),
    Column("started", String(40), nullable=False, default=""),
    Column("finished", String(40), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Index("cx_instances_session", "session_id"),
)

steps = Table(
    "cx_steps",
    metadata,
    Column("instance_id", String(200), primary_key=True),
    Column("step_id", String(120), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("sender", String(80), nullable=False),
    Column("receiver", String(80), nullable=False),
    Column("title", Text, nullable=False),
    Column("outcome", String(16), nullable=False, default=""),
    Column("started", String(40), nullable=False, default=""),
    Column("finished", String(40), nullable=False, default=""),
    Column("findings", JSON, nullable=False),
)

endpoints = Table(
    "cx_endpoints",
    metadata,
    Column("session_id", String(80), primary_key=True),
    Column("endpoint_id", String(200), primary_key=True),
    Column("system_id", String(120), nullable=False),
    Column("role", String(80), nullable=False),
    Column("listen_url", Text, nullable=False),
    Column("target_url", Text, nullable=False),
)

exchanges = Table(
    "cx_exchanges",
    metadata,
    Column("exchange_id", String(80), primary_key=True),
    Column("session_id", String(80), nullable=False),
    Column("endpoint_id", String(200), nullable=False),
    Column("source", String(120), nullable=False),
    Column("target", String(120), nullable=False),
    Column("method", String(16), nullable=False),
    Column("path", Text, nullable=False),
    Column("request_headers", JSON, nullable=False),
    Column("request_body", LargeBinary, nullable=False),
    Column("status", Integer, nullable=True),
    Column("response_headers", JSON, nullable=False),
    Column("response_body", LargeBinary, nullable=False),
    Column("started", String(40), nullable=False),
    Column("elapsed_ms", Float, nullable=False),
    Column("error", Text, nullable=False, default=""),
    Column("instance_id", String(200), nullable=False, default=""),
    Column("step_id", String(120), nullable=False, default=""),
    Column("match", String(16), nullable=False, default=""),
    Column("kind", String(40), nullable=False, default=""),
    Column("findings", JSON, nullable=False),
    Column("validated", Boolean, nullable=False, default=False),
    Index("cx_exchanges_session", "session_id", "instance_id"),
)

grades = Table(
    "cx_grades",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the order of the acts
    Column("instance_id", String(200), nullable=False),
    Column("grade", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("by", Text, nullable=False),
    Column("at", String(40), nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("attachments", JSON, nullable=False),
    Index("cx_grades_instance", "instance_id"),
)

attachments = Table(
    "cx_attachments",
    metadata,
    Column("attachment_id", String(80), primary_key=True),
    Column("instance_id", String(200), nullable=False),
    Column("name", Text, nullable=False),
    Column("content_type", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    UniqueConstraint("attachment_id", "instance_id"),
)

# Columns added after stores of this schema version exist: (table, column, SQL type and
# default), added in place when a store is opened, as the run store does.
ADDED_COLUMNS = (("cx_systems", "files", "TEXT NOT NULL DEFAULT ''"),)

accounts = Table(
    "cx_accounts",
    metadata,
    Column("username", String(80), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("vendor", Text, nullable=False, default=""),
)
