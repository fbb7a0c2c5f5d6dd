"""``sql list`` and ``sql show NAME``: the statements in ``include/sql/`` for whoever wants to read them."""

from __future__ import annotations

import argparse

from funnelflow.sql import DIALECTS, SQL_ROOT, UnknownStatement, names, path_of, source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sql", help="list or print the SQL statements in include/sql/")
    actions = p.add_subparsers(dest="sql_command", required=True, metavar="ACTION")
    actions.add_parser("list", help="list every statement by name").set_defaults(func=_list)
    show = actions.add_parser("show", help="print one statement")
    show.add_argument("name", help="e.g. ingest/upsert_leads (see `sql list`)")
    show.add_argument("--dialect", choices=DIALECTS, help="the variant to print where the dialects differ")
    show.set_defaults(func=_show)


def _list(args: argparse.Namespace) -> int:
    for name in names():
        print(name)
    return 0


def _show(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError

    name = args.name.removesuffix(".sql")
    try:
        variants = [d for d in DIALECTS if (SQL_ROOT / f"{name}.{d}.sql").is_file()]
        if args.dialect is None and variants and not (SQL_ROOT / f"{name}.sql").is_file():
            for dialect in variants:  # each variant under its file name
                print(f"-- {path_of(name, dialect).relative_to(SQL_ROOT)}")
                print(source(name, dialect))
            return 0
        print(source(name, args.dialect), end="")
    except UnknownStatement as exc:
        raise CommandError(str(exc)) from None
    return 0
