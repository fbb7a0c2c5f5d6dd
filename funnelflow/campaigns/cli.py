"""``campaigns check|list|audience|preview|test-send|stop|results``: marketing ops' view of campaign files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from funnelflow import clock
from funnelflow.cli import command_engine, parse_as_of


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("campaigns", help="check, preview, test and stop campaigns (config/campaigns/*.yaml)")
    csub = p.add_subparsers(dest="campaigns_command", required=True, metavar="ACTION")
    check = csub.add_parser("check", help="validate every campaign file (exit 1 naming file, line and fix)")
    check.set_defaults(func=_check)
    lst = csub.add_parser("list", help="every campaign: slug, schedule, A/B test, offer")
    lst.set_defaults(func=_list)
    aud = csub.add_parser("audience", help="who is in a campaign's segment (and who is sendable)")
    aud.add_argument("slug")
    aud.add_argument("--as-of", help="ISO time the segment is computed at (default: now)")
    mode = aud.add_mutually_exclusive_group()
    mode.add_argument("--count", action="store_true", help="the numbers only (the default)")
    mode.add_argument("--ids", action="store_true", help="lead ids, one per line")
    mode.add_argument("--sql", action="store_true", help="the one SQL statement, with its bound parameters")
    aud.add_argument("--sendable", action="store_true", help="only those the sending layer would send to")
    aud.set_defaults(func=_audience)
    prev = csub.add_parser("preview", help="write the HTML and text a person would get, per subject variant")
    prev.add_argument("slug")
    prev.add_argument(
        "--lead-id", type=int, help="render as this lead would get it (default: a sample person)"
    )
    prev.add_argument("--out", type=Path, default=Path("campaign-preview"), help="folder for the files")
    prev.set_defaults(func=_preview)
    test = csub.add_parser("test-send", help="send each variant to the campaign's test_recipients only")
    test.add_argument("slug")
    test.set_defaults(func=_test_send)
    stop = csub.add_parser("stop", help="stop a running send between chunks (the next run continues)")
    stop.add_argument("slug")
    stop.set_defaults(func=_stop)
    res = csub.add_parser(
        "results", help="per run and variant: sent, delivered, opens, clicks, ... and the winner"
    )
    res.add_argument("slug")
    res.add_argument("--json", action="store_true")
    res.set_defaults(func=_results)


def _campaign(slug: str):
    from funnelflow.campaigns.config import CampaignError, find_campaign
    from funnelflow.cli import CommandError

    try:
        return find_campaign(slug)
    except CampaignError as exc:
        raise CommandError(str(exc)) from None


def _check(args: argparse.Namespace) -> int:
    from funnelflow.campaigns.config import campaigns_dir, load_all

    good, bad = load_all()
    for c in good:
        print(f"ok    {c.slug}")
    for slug, error in bad.items():
        print(f"error {slug}:\n{error}")
    print(f"{len(good)} campaign(s) valid, {len(bad)} with mistakes in {campaigns_dir()}")
    return 1 if bad else 0


def _list(args: argparse.Namespace) -> int:
    from funnelflow.campaigns.config import load_all

    good, bad = load_all()
    for c in good:
        s = c.spec
        when = f"cron {s.schedule.cron}" if s.schedule.cron else f"once {s.schedule.once.isoformat()}"  # type: ignore[union-attr]
        ab = (
            f"A/B {s.ab_test.share:.0%} on {s.ab_test.metric}, wait {s.ab_test.wait_hours}h"
            if s.ab_test
            else "one subject"
        )
        offer = (
            f"offer until {s.offer.expires_at.isoformat()} (limit {s.offer.limit})" if s.offer else "no offer"
        )
        print(f"{c.slug}\t{s.name}\t{when} {s.schedule.timezone}\t{ab}\t{offer}\towner {s.owner}")
    for slug in bad:
        print(f"{slug}\t(invalid: run `campaigns check`)")
    return 1 if bad else 0


def _audience(args: argparse.Namespace) -> int:
    from funnelflow.campaigns.run import segment_ids, sendable_mask
    from funnelflow.segments import segment_sql

    campaign = _campaign(args.slug)
    as_of = parse_as_of(args.as_of)
    engine = command_engine()
    if args.sql:
        sql, params = segment_sql(campaign.exclusion, as_of, engine.dialect.name)
        print(sql)
        print("-- parameters: " + json.dumps(params, default=str))
        return 0
    if args.ids and not args.sendable:
        with engine.connect() as conn:
            for lead_id in segment_ids(conn, campaign, as_of):
                print(lead_id)
        return 0
    ids, mask = sendable_mask(engine, campaign, as_of)
    if args.ids:
        for lead_id, ok in zip(ids, mask, strict=True):
            if ok:
                print(lead_id)
        return 0
    print(f"in the segment: {len(ids)}")
    print(f"sendable:       {sum(mask)}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from funnelflow.campaigns.preview import write_preview

    campaign = _campaign(args.slug)
    engine = command_engine() if args.lead_id is not None else None
    for path in write_preview(campaign, args.out, engine, args.lead_id):
        print(path)
    return 0


def _test_send(args: argparse.Namespace) -> int:
    from funnelflow.campaigns.preview import send_to_test_recipients

    campaign = _campaign(args.slug)
    report = send_to_test_recipients(command_engine(), campaign, _transport(), clock.now())
    print(json.dumps(report, indent=2))
    return 0


def _transport():
    """FUNNELFLOW_EMAIL_TRANSPORT; for SendGrid the `sendgrid_default` connection from its environment
    variable."""
    import os

    from funnelflow import settings
    from funnelflow.cli import CommandError
    from funnelflow.email.transports import sendgrid_base_url_from_host, transport_from_settings

    if (settings.env("FUNNELFLOW_EMAIL_TRANSPORT", "outbox") or "").strip().lower() != "sendgrid":
        return transport_from_settings()
    try:
        conn = json.loads(os.environ["AIRFLOW_CONN_SENDGRID_DEFAULT"])
    except (KeyError, ValueError):
        raise CommandError(
            "the sendgrid transport needs AIRFLOW_CONN_SENDGRID_DEFAULT as JSON "
            '(\'{"conn_type": "email", "password": "SG..."}\')'
        ) from None
    return transport_from_settings(conn.get("password"), sendgrid_base_url_from_host(conn.get("host")))


def _stop(args: argparse.Namespace) -> int:
    from funnelflow.campaigns.run import request_stop

    campaign = _campaign(args.slug)
    n = request_stop(command_engine(), campaign.slug, clock.now())
    if n:
        print(
            f"stop requested for {n} unfinished run(s) of {campaign.slug}: "
            "the send ends after its current chunk"
        )
    else:
        print(f"no unfinished run of {campaign.slug}: nothing to stop")
    return 0


def _results(args: argparse.Namespace) -> int:
    from funnelflow.campaigns.run import results

    campaign = _campaign(args.slug)
    runs = results(command_engine(), campaign.slug)
    if args.json:
        print(json.dumps(runs, indent=2))
        return 0
    if not runs:
        print(f"{campaign.slug}: no runs yet")
    cols = ("sent", "delivered", "opens", "clicks", "unsubscribes", "bounces", "spam_reports")
    for r in runs:
        print(f"run {r['run_key']} ({r['status']}): {r['audience']} in the segment, {r['sendable']} sendable")
        print("  variant " + " ".join(f"{c:>12}" for c in cols))
        for variant, counts in sorted(r["variants"].items()):
            print(f"  {variant:<7} " + " ".join(f"{counts[c]:>12}" for c in cols))
        if r["winner"]:
            print(f"  winner: {r['winner']} ({r['decision']})")
    return 0
