"""``python -m funnelflow``: the command line marketing ops and engineers use.

Each area registers its own subcommands (``register(subparsers)`` in the
modules listed in ``COMMAND_MODULES``), so this file only wires them. The
command line reads ``AIRFLOW_CONN_MARKETING_DB`` itself and needs no running
Airflow.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES = (
    "funnelflow.db.cli",
    "funnelflow.web.cli",
    "funnelflow.status",
    "funnelflow.ingest.cli",
    "funnelflow.qualify.cli",
    "funnelflow.synth.cli",
    "funnelflow.settings_cli",
    "funnelflow.privacy.cli",
    "funnelflow.sql_cli",
    "funnelflow.metrics.cli",
    "funnelflow.campaigns.cli",
    "funnelflow.sales.cli",
    "funnelflow.webinars.cli",
)


class CommandError(Exception):
    """An error the user can fix; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m funnelflow", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # Known configuration problems print one clear line, not a traceback.
        from funnelflow.db.engine import MarketingDbUnreachable
        from funnelflow.db.migrate import SchemaBehind
        from funnelflow.db.url import MarketingDbConfigError
        from funnelflow.settings import HomeNotWritable

        if isinstance(exc, MarketingDbUnreachable | MarketingDbConfigError | SchemaBehind | HomeNotWritable):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
