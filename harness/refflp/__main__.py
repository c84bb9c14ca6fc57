"""Run the reference FLP service: python -m harness.refflp serve --host 127.0.0.1 --port P
--workers N [--db PATH|postgresql://…] [--defect NAME ...] [--allow-admin]."""

from __future__ import annotations

import argparse
import ipaddress
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from harness.refflp.defects import CATALOGUE, UnknownDefect, checked
from harness.refflp.settings import Settings, is_postgres

MAX_WORKERS = 64


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.refflp", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the API under uvicorn")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    serve.add_argument("--port", type=int, default=8090)
    serve.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    serve.add_argument("--db", help="SQLite file or postgresql:// URL (default: a temporary file)")
    serve.add_argument("--defect", action="append", default=[], metavar="NAME")
    serve.add_argument("--allow-admin", action="store_true", help="the seed and reset routes")
    serve.add_argument("--pool", type=int, default=8, help="database connections per worker")
    commands.add_parser("defects", help="list the performance defects")
    return parser


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "defects":
        for defect in CATALOGUE.values():
            print(f"{defect.name:16} {defect.operation:14} {defect.en}")
        return 0
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            print(f"error: --host {args.host} is not a loopback address", file=sys.stderr)
            return 2
    except ValueError:
        print(f"error: --host {args.host!r} is not an IP address", file=sys.stderr)
        return 2
    if not 1 <= args.workers <= MAX_WORKERS or not 1 <= args.port <= 65535:
        print(f"error: --workers 1-{MAX_WORKERS} and --port 1-65535", file=sys.stderr)
        return 2
    try:
        defects = checked(args.defect)
    except UnknownDefect as exc:
        print(f"error: --defect: {exc}", file=sys.stderr)
        return 2
    # uvicorn re-raises the SIGTERM it caught once it has shut down; with this handler as the
    # original one that ends in SystemExit, so the scratch folder below is still removed.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    scratch = Path(tempfile.mkdtemp(prefix="kcert-refflp-"))
    try:
        db = args.db or str(scratch / "flp.sqlite")
        if not is_postgres(db):
            db = str(Path(db).resolve())
        settings = Settings(
            db=db,
            lock_path=scratch / "global.lock",
            defects=defects,
            allow_admin=args.allow_admin,
            workers=args.workers,
            pool_size=args.pool,
        )
        return _serve(settings, args.host, args.port)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _serve(settings: Settings, host: str, port: int) -> int:
    import uvicorn

    from harness.refflp.defects import MISSING_INDEX
    from harness.refflp.store import Store

    # The schema is made here, before any worker starts (each worker checks it again under the
    # store's lock, idempotently), so the workers never race to create it.
    try:
        store = Store(settings.db, 1)
        store.ensure_schema(indexes=MISSING_INDEX not in settings.defects)
        store.close()
    except Exception as exc:  # any store failure is a start-up error to report
        print(f"error: --db: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    os.environ.update(settings.to_env())
    uvicorn.run(
        "harness.refflp.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=settings.workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
