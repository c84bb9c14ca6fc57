"""`kcert connectathon serve`: the web application under uvicorn on a loopback address."""

from __future__ import annotations

import argparse
import hashlib
import ipaddress
import os
import socket
import sys
from pathlib import Path

import uvicorn

from harness.connectathon.model import ScenarioInfo
from harness.connectathon.store import ConnectathonStore, open_connectathon_store
from harness.connectathon.web.app import create_app
from harness.store.runstore import StoreError, display_url

SECRET_ENV = "KCERT_WEB_SECRET"


def secret_from_env() -> bytes | None:
    """The session-signing key from KCERT_WEB_SECRET (any text, hashed to 32 bytes), so
    sessions survive a restart; without it every start makes a new key."""
    value = os.environ.get(SECRET_ENV, "")
    return hashlib.sha256(value.encode()).digest() if value else None


def serve_command(args: argparse.Namespace) -> int:
    host = str(getattr(args, "host", None) or "127.0.0.1")
    port_value = getattr(args, "port", None)
    port = 8765 if port_value is None else int(port_value)  # 0: a free port, printed
    lang = str(getattr(args, "lang", None) or "da")
    if not _loopback(host):
        print(
            f"kcert: error: --host {host}: the connectathon web application binds to a "
            "loopback address only (put a TLS-terminating proxy in front to share it)",
            file=sys.stderr,
        )
        return 2
    if not 0 <= port < 65536:
        print(f"kcert: error: --port {port}: must be 0-65535 (0: a free one)", file=sys.stderr)
        return 2
    reports = Path(getattr(args, "reports", None) or "reports")
    try:
        store = open_connectathon_store(getattr(args, "store", None), reports)
    except StoreError as exc:
        print(f"kcert: error: {exc}", file=sys.stderr)
        return 2
    try:
        session = getattr(args, "session", None)
        if session:
            try:
                store.session(session)
            except KeyError:
                print(
                    f"kcert: error: --session {session}: no such session in "
                    f"{display_url(store.url)}",
                    file=sys.stderr,
                )
                return 2
        app = create_app(
            store,
            secret_key=secret_from_env(),
            lang=lang,
            scenarios=lambda: scenarios_of(store),
            default_session=session,
        )
        try:
            sock = socket.create_server((host, port))  # bound here: port 0 is known at once
        except OSError as exc:
            print(f"kcert: error: {host}:{port} cannot be used ({exc.strerror})", file=sys.stderr)
            return 2
        with sock:
            bound = sock.getsockname()[1]
            print(f"kcert connectathon: http://{host}:{bound}/", flush=True)
            # Open event streams would hold a graceful shutdown for minutes: cut them at 2 s.
            config = uvicorn.Config(
                app, log_level="warning", access_log=False, timeout_graceful_shutdown=2
            )
            uvicorn.Server(config).run(sockets=[sock])
    finally:
        store.close()
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def scenarios_of(store: ConnectathonStore) -> dict[str, ScenarioInfo]:
    """Titles and roles of every session's scenarios (pairing saved them), by scenario id."""
    found: dict[str, ScenarioInfo] = {}
    for session in store.sessions():
        for info in store.scenario_infos(session.session_id):
            found.setdefault(info.scenario_id, info)
    return found
