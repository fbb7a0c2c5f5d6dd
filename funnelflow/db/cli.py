"""``db`` subcommands: migrate and inspect the marketing database."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="migrate and inspect the marketing database")
    dbsub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    up = dbsub.add_parser("upgrade", help="apply migrations to the configured marketing database")
    up.add_argument("--revision", default="head")
    up.set_defaults(func=_upgrade)
    cur = dbsub.add_parser("current", help="show the schema revision and whether it is current")
    cur.set_defaults(func=_current)


def _upgrade(args: argparse.Namespace) -> int:
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import current_revision, upgrade
    from funnelflow.db.url import redact

    engine = make_engine()
    check_reachable(engine)
    before = current_revision(engine)
    upgrade(engine, args.revision)
    after = current_revision(engine)
    print(f"marketing_db {redact(engine.url)}: {before or 'empty'} -> {after}")
    return 0


def _current(args: argparse.Namespace) -> int:
    from funnelflow.db.engine import check_reachable, make_engine
    from funnelflow.db.migrate import current_revision, head_revision
    from funnelflow.db.url import redact

    engine = make_engine()
    check_reachable(engine)
    cur, head = current_revision(engine), head_revision()
    behind = "" if cur == head else " (behind)"
    print(f"marketing_db {redact(engine.url)}: at {cur or 'nothing'}, head {head}{behind}")
    return 0 if cur == head else 1
