"""``rules`` and ``merges`` commands: check and preview scoring rules, review and undo merges."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from funnelflow.cli import command_engine, parse_as_of


def register(sub: argparse._SubParsersAction) -> None:
    rules = sub.add_parser("rules", help="check, preview (dry run) and show the scoring and SQL rules")
    rsub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = rsub.add_parser("check", help="validate config/scoring.yaml and config/sales_rules.yaml")
    check.add_argument("--scoring", type=Path, help="scoring rules file (default: the config folder's)")
    check.add_argument("--sales", type=Path, help="SQL rules file (default: the config folder's)")
    check.set_defaults(func=_check)
    dry = rsub.add_parser("dry-run", help="what a changed rules file would do to every lead, without writing")
    dry.add_argument(
        "file", type=Path, help="the changed scoring.yaml (or sales_rules.yaml with --sales-file)"
    )
    dry.add_argument(
        "--sales-file",
        action="store_true",
        help="FILE is a sales_rules.yaml, scored with the live scoring.yaml",
    )
    dry.add_argument("--as-of", help="score as of this ISO time (default: now)")
    dry.set_defaults(func=_dry_run)
    show = rsub.add_parser(
        "show-sql", help="print the scoring SQL the rules generate (values are bound parameters)"
    )
    show.add_argument("--dialect", choices=("postgresql", "sqlite"), default="postgresql")
    show.set_defaults(func=_show_sql)

    merges = sub.add_parser("merges", help="review likely duplicate leads, and undo merges")
    msub = merges.add_subparsers(dest="merges_command", required=True, metavar="ACTION")
    lst = msub.add_parser("list", help="pairs waiting for review (or --merged: the merge log)")
    lst.add_argument(
        "--merged", action="store_true", help="list merges (for undo) instead of the review list"
    )
    lst.add_argument("--limit", type=int, default=50)
    lst.set_defaults(func=_list)
    for name, helptext in (
        ("accept", "merge a review pair"),
        ("reject", "keep a review pair apart for good"),
    ):
        p = msub.add_parser(name, help=helptext)
        p.add_argument("pair_id", type=int)
        p.add_argument("--by", default="marketing-ops", help="who decided (recorded)")
        p.set_defaults(func=_decide, decision=name)
    undo = msub.add_parser("undo", help="undo a merge: both leads and all their rows as before")
    undo.add_argument("merge_id", type=int)
    undo.add_argument("--by", default="marketing-ops", help="who undid it (recorded)")
    undo.set_defaults(func=_undo)


def _load(scoring: Path | None, sales: Path | None):
    from funnelflow.cli import CommandError
    from funnelflow.qualify.rules import RulesError, load_rules

    try:
        return load_rules(scoring_path=scoring, sales_path=sales)
    except RulesError as exc:
        raise CommandError(f"rules rejected:\n{exc}") from None


def _check(args: argparse.Namespace) -> int:
    rules = _load(args.scoring, args.sales)
    print(
        f"rules OK: version {rules.version}, {len(rules.scoring.fit.rules)} fit rules, "
        f"{len(rules.scoring.engagement.points)} touch types, {len(rules.sales.sql_rules)} SQL rules"
    )
    return 0


def _dry_run(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError

    if not args.file.exists():
        raise CommandError(f"{args.file}: file not found")
    rules = _load(None, args.file) if args.sales_file else _load(args.file, None)
    as_of = parse_as_of(args.as_of)
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    report = dry_run(command_engine(), rules, as_of=as_of)
    print(f"dry run of rules {rules.version} as of {as_of.isoformat()} (nothing written)")
    print(f"leads scored:        {report['leads']:>9,}")
    print(f"grade would change:  {report['grade_changes']:>9,}")
    print(f"stage would change:  {report['stage_changes']:>9,}")
    for move, n in report["transitions"].items():
        print(f"  {move:<28} {n:>9,}")
    print("by stage (now -> with these rules):")
    for stage, (before, after) in report["by_stage"].items():
        print(f"  {stage:<14} {before:>9,} -> {after:>9,}")
    return 0


def dry_run(engine: sa.Engine, rules, *, as_of: datetime) -> dict:
    """Score every lead with ``rules`` inside a transaction that is rolled back; report what would change."""
    from funnelflow.db.schema import LIFECYCLE_STAGES, leads
    from funnelflow.qualify.score import compute, transitions

    with engine.connect() as conn:
        trans = conn.begin()
        try:
            considered, _, new = compute(conn, rules, as_of=as_of, scope="all")
            grade_changes = conn.execute(
                sa.select(sa.func.count())
                .select_from(new.join(leads, leads.c.id == new.c.lead_id))
                .where(leads.c.fit_grade.is_distinct_from(new.c.fit_grade))
            ).scalar_one()
            moves = transitions(conn, new)
            before = dict(
                conn.execute(sa.select(new.c.old_stage, sa.func.count()).group_by(new.c.old_stage)).all()
            )
            after = dict(
                conn.execute(sa.select(new.c.new_stage, sa.func.count()).group_by(new.c.new_stage)).all()
            )
        finally:
            trans.rollback()  # the scratch tables go with it
    return {
        "leads": considered,
        "grade_changes": grade_changes,
        "stage_changes": sum(moves.values()),
        "transitions": {f"{a} -> {b}": n for (a, b), n in sorted(moves.items())},
        "by_stage": {s: (before.get(s, 0), after.get(s, 0)) for s in LIFECYCLE_STAGES},
    }


def _show_sql(args: argparse.Namespace) -> int:
    from funnelflow.qualify.score import render_sql

    print(render_sql(_load(None, None), args.dialect))
    return 0


def _list(args: argparse.Namespace) -> int:
    from funnelflow.db.schema import lead_merges, merge_candidates

    with command_engine().connect() as conn:
        if args.merged:
            rows = conn.execute(
                sa.select(lead_merges).order_by(lead_merges.c.id.desc()).limit(args.limit)
            ).all()
            if not rows:
                print("no merges")
            for r in rows:
                moved = sum(len(v) for v in r.undo.get("moved", {}).values())
                state = f"undone {r.undone_at:%Y-%m-%d %H:%M}" if r.undone_at else "active"
                print(
                    f"merge {r.id}: lead {r.loser_id} into {r.winner_id} "
                    f"({r.method}, {r.similarity or '-'}), "
                    f"{moved} row(s) moved, {r.merged_at:%Y-%m-%d %H:%M} by {r.merged_by}, {state}"
                )
            return 0
        rows = conn.execute(
            sa.select(merge_candidates)
            .where(merge_candidates.c.status == "pending")
            .order_by(merge_candidates.c.similarity.desc(), merge_candidates.c.id)
            .limit(args.limit)
        ).all()
        if not rows:
            print("no pairs waiting for review")
        for r in rows:
            print(
                f"pair {r.id}: leads {r.lead_id} and {r.other_lead_id}, similarity {r.similarity:g} "
                f"{json.dumps(r.evidence, sort_keys=True)}"
            )
    return 0


def _decide(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError
    from funnelflow.qualify.dedupe import MergeError, accept, reject

    try:
        with command_engine().begin() as conn:
            if args.decision == "accept":
                merge_id = accept(conn, args.pair_id, actor=args.by)
                print(f"pair {args.pair_id} merged (merge {merge_id}; undo with `merges undo {merge_id}`)")
            else:
                reject(conn, args.pair_id, actor=args.by)
                print(f"pair {args.pair_id} rejected: these leads stay apart")
    except MergeError as exc:
        raise CommandError(str(exc)) from None
    return 0


def _undo(args: argparse.Namespace) -> int:
    from funnelflow.cli import CommandError
    from funnelflow.qualify.dedupe import MergeError, undo_merge

    try:
        with command_engine().begin() as conn:
            undo_merge(conn, args.merge_id, actor=args.by)
    except MergeError as exc:
        raise CommandError(str(exc)) from None
    print(f"merge {args.merge_id} undone: both leads and their rows are back as before")
    return 0
