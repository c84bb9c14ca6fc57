"""What one service process needs to know, passed from `serve` to each uvicorn worker by
environment variables (uvicorn starts the workers from an import string and an app factory)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from harness.refflp.defects import checked

SERVICE = "kcert-reference-flp"
VERSION = "1.0"
ENV_DB = "KCERT_REFFLP_DB"
ENV_DEFECTS = "KCERT_REFFLP_DEFECTS"  # comma-separated
ENV_ADMIN = "KCERT_REFFLP_ADMIN"  # "1": the seed and reset routes exist
ENV_WORKERS = "KCERT_REFFLP_WORKERS"
ENV_LOCK = "KCERT_REFFLP_LOCK"  # the global-lock defect's lock file
ENV_POOL = "KCERT_REFFLP_POOL"  # database connections per process

MAX_BODY_BYTES = 256 * 1024  # a care plan is a few kB; a body beyond this is refused (413)
MAX_PAGE_SIZE = 200
MAX_PAGE = 10_000
MAX_PATIENT_PLANS = 100  # the patient view shows at most this many plans
# The published rule: plan data older than two years is not shown to the patient.
HIDE_OLDER_THAN_YEARS = 2
# Seeding bounds: the national figure is about 1,700 clinics.
MAX_SEED_CLINICS = 5000
MAX_SEED_PLANS_PER_CLINIC = 400  # the national figures give ~390 plans in view per clinic
MAX_SEED_ROWS = 250_000


@dataclass(frozen=True)
class Settings:
    db: str  # a SQLite file path or a postgresql:// URL
    lock_path: Path
    defects: tuple[str, ...] = ()
    allow_admin: bool = False
    workers: int = 1
    pool_size: int = 8

    @property
    def store(self) -> str:
        return "postgresql" if is_postgres(self.db) else "sqlite"

    def to_env(self) -> dict[str, str]:
        return {
            ENV_DB: self.db,
            ENV_LOCK: str(self.lock_path),
            ENV_DEFECTS: ",".join(self.defects),
            ENV_ADMIN: "1" if self.allow_admin else "0",
            ENV_WORKERS: str(self.workers),
            ENV_POOL: str(self.pool_size),
        }

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        names = [name for name in env.get(ENV_DEFECTS, "").split(",") if name]
        return cls(
            db=env[ENV_DB],
            lock_path=Path(env[ENV_LOCK]),
            defects=checked(names),
            allow_admin=env.get(ENV_ADMIN) == "1",
            workers=int(env.get(ENV_WORKERS, "1")),
            pool_size=int(env.get(ENV_POOL, "8")),
        )


def is_postgres(db: str) -> bool:
    return db.startswith(("postgresql://", "postgres://"))
