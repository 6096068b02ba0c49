"""``nas serve`` (REST API + dashboard with N local workers) and ``nas token`` (write tokens)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from nas.cli.common import add_artifacts, add_db, sessions
from nas.errors import ConfigError

STOP_TIMEOUT_S = 120.0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from nas.api import Settings, create_app
    from nas.api.supervisor import WorkerSupervisor

    settings = Settings.from_env(db_url=args.db, dev=True if args.dev else None,
                                 read_requires_token=True if args.read_requires_token else None)
    app = create_app(settings)
    supervisor = WorkerSupervisor(settings.db_url, args.workers, artifacts=Path(args.artifacts),
                                  poll_s=args.poll)
    # uvicorn shuts down on SIGTERM, then raises the signal again: with the default handler the process
    # would die there, before `finally`, and leave its workers running. This handler lets it return.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: None)
    supervisor.start()
    print(f"nas API on http://{args.host}:{args.port} (dashboard /, OpenAPI /docs), database {settings.db_url}, "
          f"{args.workers} local worker(s)" + ("" if args.workers else ": remote 'nas worker' processes do the work"),
          flush=True)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="info" if args.verbose else "warning")
    finally:
        supervisor.stop(args.stop_timeout)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from nas import service

    if args.action != "list" and not args.token_name:
        raise ConfigError(f"nas token {args.action} needs a token name, e.g. nas token {args.action} ci-bot")
    with sessions(args.db, create=args.action == "create")() as s:
        if args.action == "create":
            token = service.create_api_token(s, args.token_name)
            print(f"token '{args.token_name}' (shown once; send it as 'Authorization: Bearer ...'):\n{token}")
        elif args.action == "revoke":
            service.revoke_api_token(s, args.token_name)
            print(f"revoked token '{args.token_name}'")
        else:
            for name, created in service.list_api_tokens(s):
                print(f"{name:<32} created {created:%Y-%m-%d %H:%M}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the REST API and dashboard, with N local workers")
    add_db(p)
    p.add_argument("--workers", type=int, default=1,
                   help="local worker processes (default 1); 0 = only serve, remote 'nas worker's do the work")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 in a container)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    add_artifacts(p)
    p.add_argument("--poll", type=float, default=5.0, metavar="S",
                   help="seconds between checks for new work (default 5)")
    p.add_argument("--stop-timeout", type=float, default=STOP_TIMEOUT_S, metavar="S",
                   help=f"on SIGTERM/SIGINT, seconds the local workers get to finish their trial before they are "
                        f"killed (default {STOP_TIMEOUT_S:g}; a killed trial is re-run by heartbeat recovery)")
    p.add_argument("--dev", action="store_true", help="accept a missing or weak NAS_API_TOKEN (local use only)")
    p.add_argument("--read-requires-token", action="store_true", help="reads (API and dashboard) need a token too")
    p.set_defaults(func=cmd_serve)

    t = sub.add_parser("token", help="create, list or revoke API write tokens stored in the database")
    t.add_argument("action", choices=["create", "list", "revoke"], help="create (prints it once), list or revoke")
    t.add_argument("token_name", nargs="?", help="a name for the token (who uses it)")
    add_db(t)
    t.set_defaults(func=cmd_token)
