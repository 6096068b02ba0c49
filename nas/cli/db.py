"""``nas db upgrade|status``: the service's schema migrations (Alembic, version table ``nas_alembic_version``)."""

from __future__ import annotations

import argparse

from nas.cli.common import add_db


def cmd_db(args: argparse.Namespace) -> int:
    from nas.migrations import state, upgrade
    from nas.study.tables import make_engine

    engine = make_engine(args.db, migrate=False, create=args.action == "upgrade")
    try:
        if args.action == "status":
            s = state(engine)
            print(f"schema at {s.current or 'no recorded revision'}, head {s.head}"
                  + (f": pending {', '.join(s.pending)} (run 'nas db upgrade')" if s.pending else ": up to date"))
            return 0
        before = upgrade(engine)
        if before.up_to_date:
            print(f"schema already at {before.head}")
        else:
            print(f"schema upgraded from {before.current or 'no recorded revision'} to {before.head} "
                  f"({', '.join(before.pending)})")
    finally:
        engine.dispose()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="upgrade the service's tables to this version's schema, or show where they are",
                       description="Alembic migrations of the service's own tables (Optuna migrates its own). "
                                   "'nas serve', 'nas worker' and the other commands apply additive revisions "
                                   "by themselves; 'nas db upgrade' applies all of them (stop workers first).")
    p.add_argument("action", choices=["upgrade", "status"], help="upgrade to the head revision, or show status")
    add_db(p)
    p.set_defaults(func=cmd_db)
