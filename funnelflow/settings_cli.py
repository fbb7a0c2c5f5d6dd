"""``settings``: every setting, its value (secrets masked) and meaning; ``--markdown`` for the README."""

from __future__ import annotations

import argparse
import os

from funnelflow.settings import SETTINGS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("settings", help="list every setting with its current value (secrets masked)")
    p.add_argument("--markdown", action="store_true", help="print the README's configuration table")
    p.set_defaults(func=_settings)


def _settings(args: argparse.Namespace) -> int:
    if args.markdown:
        print("| setting | default | what it does |")
        print("| --- | --- | --- |")
        for s in SETTINGS:
            default = f"`{s.default}`" if s.default else "(none)"
            print(f"| `{s.name}` | {default} | {s.help} |")
        return 0
    width = max(len(s.name) for s in SETTINGS)
    for s in SETTINGS:
        value = os.environ.get(s.name)
        shown = ("***" if s.secret else value) if value else f"(default: {s.default or 'none'})"
        print(f"{s.name:<{width}}  {shown}")
    return 0
