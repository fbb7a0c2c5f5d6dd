"""``rejects list`` / ``rejects replay`` / ``ingest inbox``: lead ingestion from the command line.

Reads ``AIRFLOW_CONN_MARKETING_DB`` and the config folder like the DAG does;
needs no running Airflow. Output names rows by source, file and line, never by
a person's address.
"""

from __future__ import annotations

import argparse
import json

from funnelflow import clock
from funnelflow.cli import command_engine


def register(sub: argparse._SubParsersAction) -> None:
    rejects = sub.add_parser(
        "rejects", help="rows set aside at ingestion: list them, replay them after a fix"
    )
    rsub = rejects.add_subparsers(dest="rejects_command", required=True, metavar="ACTION")
    lst = rsub.add_parser("list", help="unreplayed rejects, newest first (source, file, line, reason)")
    lst.add_argument("--source", help="only this source")
    lst.add_argument("--limit", type=int, default=50)
    lst.add_argument("--all", action="store_true", help="include rejects already replayed")
    lst.set_defaults(func=_list)
    rep = rsub.add_parser("replay", help="run unreplayed rejects through today's mapping and validation")
    rep.add_argument("--source", help="only this source")
    rep.add_argument("--id", type=int, action="append", dest="ids", help="only this reject id (repeatable)")
    rep.set_defaults(func=_replay)
    ingest = sub.add_parser(
        "ingest", help="lead ingestion without Airflow (what the lead_ingestion DAG runs)"
    )
    isub = ingest.add_subparsers(dest="ingest_command", required=True, metavar="ACTION")
    inbox = isub.add_parser(
        "inbox", help="ingest the files in the inbox folder and process landed web-form rows"
    )
    inbox.add_argument("--path", help="inbox folder (default: FUNNELFLOW_HOME/inbox/leads)")
    inbox.set_defaults(func=_ingest_inbox)


def _list(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from funnelflow.db import schema

    r = schema.ingest_rejects
    query = (
        select(
            r.c.id,
            r.c.source,
            r.c.source_file,
            r.c.line_number,
            r.c.reason,
            r.c.received_at,
            r.c.replay_outcome,
        )
        .order_by(r.c.id.desc())
        .limit(args.limit)
    )
    if not args.all:
        query = query.where(r.c.replayed_at.is_(None))
    if args.source:
        query = query.where(r.c.source == args.source)
    with command_engine().connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        print("no rejects")
        return 0
    for row in rows:
        replay = f"  replayed: {row.replay_outcome}" if row.replay_outcome else ""
        where = f"{row.source_file or '-'}:{row.line_number or '-'}"
        print(f"#{row.id}  {row.source}  {where}  {row.reason}{replay}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    from funnelflow.ingest.config import load_header_mapping, load_sources
    from funnelflow.ingest.replay import replay_rejects

    counts = replay_rejects(
        command_engine(),
        load_sources(),
        load_header_mapping(),
        clock.now(),
        source=args.source,
        reject_ids=args.ids,
    )
    print(json.dumps(counts.as_dict()))
    return 0


def _ingest_inbox(args: argparse.Namespace) -> int:
    import fsspec

    from funnelflow import settings
    from funnelflow.ingest.config import load_header_mapping, load_sources
    from funnelflow.ingest.files import ingest_inbox
    from funnelflow.ingest.landing import process_landing

    engine = command_engine()
    sources, mapping = load_sources(), load_header_mapping()
    root = args.path or str(settings.funnelflow_home() / "inbox" / "leads")
    reports = ingest_inbox(engine, fsspec.filesystem("file"), root, sources, mapping, clock.now())
    for report in reports:
        print(report.log_line())
    for source, counts in process_landing(engine, sources, mapping).items():
        print(f"landing {source}: {json.dumps(counts.as_dict())}")
    return 0
