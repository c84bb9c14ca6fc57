"""Run the reference LPS: python -m harness.reflps --port 8080 [--defect NAME ...]."""

from __future__ import annotations

import argparse
import ipaddress
import sys
from pathlib import Path

from harness.reflps.defects import CATALOGUE, UnknownDefect


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.reflps", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--defect", action="append", default=[], metavar="NAME")
    parser.add_argument("--db", type=Path, help="SQLite file (default: in memory)")
    parser.add_argument("--list-defects", action="store_true")
    parser.add_argument(
        "--only",
        choices=["all", "carecommunication"],
        default="all",
        help="carecommunication: an LPS implementing only CareCommunication (send, receive)",
    )
    parser.add_argument(
        "--declare-capabilities",
        action="store_true",
        help="the health answer declares what this LPS implements",
    )
    args = parser.parse_args(argv)
    if args.list_defects:
        for defect in CATALOGUE.values():
            print(f"{defect.name:32} {defect.en}")
        return 0
    try:
        if not ipaddress.ip_address(args.host).is_loopback:
            print(f"error: --host {args.host} is not a loopback address", file=sys.stderr)
            return 2
    except ValueError:
        print(f"error: --host {args.host!r} is not an IP address", file=sys.stderr)
        return 2
    import uvicorn

    from harness.reflps.app import create_app

    try:
        app = create_app(args.defect, args.db, only=args.only, declare=args.declare_capabilities)
    except UnknownDefect as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
