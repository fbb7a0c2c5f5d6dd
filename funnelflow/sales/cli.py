"""``sales`` commands: check the team file, route now, show the queue, explain an assignment."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from funnelflow.cli import command_engine, parse_as_of


def register(sub: argparse._SubParsersAction) -> None:
    sales = sub.add_parser("sales", help="the sales team file, routing, the sales queue")
    ssub = sales.add_subparsers(dest="sales_command", required=True, metavar="ACTION")
    check = ssub.add_parser("check", help="validate config/sales_team.yaml")
    check.add_argument("--file", type=Path, help="team file (default: the config folder's)")
    check.set_defaults(func=_check)
    route = ssub.add_parser("route", help="queue and assign new sales-qualified leads now")
    route.add_argument("--as-of", help="route as of this ISO time (default: now)")
    route.set_defaults(func=_route)
    show = ssub.add_parser("queue", help="open and unassigned items (ids, stages, due times; no addresses)")
    show.add_argument("--rep", help="only this rep's items")
    show.add_argument("--limit", type=int, default=50)
    show.set_defaults(func=_queue)
    explain = ssub.add_parser("explain", help="why this lead went to this rep (or to nobody)")
    explain.add_argument("lead_id", type=int)
    explain.add_argument("--as-of", help="evaluate the rules as of this ISO time (default: now)")
    explain.set_defaults(func=_explain)
    demo = ssub.add_parser("demo", help="(make demo) an accept, a reject, a CRM win and a CTI lookup")
    demo.add_argument("--as-of", required=True, help="the demo's logical date (ISO)")
    demo.set_defaults(func=_demo)


def _team(path: Path | None = None):
    from funnelflow.cli import CommandError
    from funnelflow.sales.team import SalesTeamError, load_team

    try:
        return load_team(path)
    except SalesTeamError as exc:
        raise CommandError(f"team file rejected:\n{exc}") from None


def _check(args: argparse.Namespace) -> int:
    team = _team(args.file)
    active = sum(r.active for r in team.reps)
    print(
        f"team file OK: {len(team.reps)} reps ({active} active) in {len(team.teams)} teams, "
        f"routing {' -> '.join(team.routing)}"
    )
    return 0


def _route(args: argparse.Namespace) -> int:
    from funnelflow.sales.routing import route

    result = route(command_engine(), _team(), as_of=parse_as_of(args.as_of), run_id="cli")
    print(json.dumps(result.summary(), indent=2))
    return 0


def _queue(args: argparse.Namespace) -> int:
    from funnelflow.sales.views import queue_rows

    rows = queue_rows(command_engine(), rep_id=args.rep, limit=args.limit)
    print(
        f"{'item':>8} {'lead':>8} {'kind':<9} {'status':<10} {'rep':<12} {'grade':<5} "
        f"{'due (UTC)':<20} reason"
    )
    for r in rows:
        due = r["due_at"].strftime("%Y-%m-%d %H:%M") if r["due_at"] else "-"
        print(
            f"{r['id']:>8} {r['lead_id']:>8} {r['kind']:<9} {r['status']:<10} {r['rep_id'] or '-':<12} "
            f"{r['fit_grade'] or '-':<5} {due:<17} {r['crm_status'] or '-':<9} {r['routing_reason'] or ''}"
            + (f" [CRM: {r['crm_error'][:80]}]" if r["crm_error"] else "")
        )
    return 0


def _explain(args: argparse.Namespace) -> int:
    from funnelflow.sales.views import explain

    print(explain(command_engine(), _team(), args.lead_id, as_of=parse_as_of(args.as_of)))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from funnelflow.sales.demo import run_demo

    for line in run_demo(command_engine(), _team(), parse_as_of(args.as_of)):
        print(f"  sales: {line}")
    return 0
