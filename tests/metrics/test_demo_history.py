"""The demo's past weeks (funnelflow.synth.history): real scoring, routing, feedback, deals, in time."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from funnelflow.db.schema import (
    email_events,
    email_sends,
    email_weekly,
    lifecycle_history,
    opportunities,
    sales_queue,
    sales_queue_history,
    touchpoints,
    webinar_registrations,
    webinar_weekly,
)
from funnelflow.email.transports import OutboxTransport
from funnelflow.metrics.compute import compute_week
from funnelflow.metrics.weeks import Week
from funnelflow.qualify.rules import load_active_rules
from funnelflow.sales.team import team_from_text
from funnelflow.synth.history import build_history
from funnelflow.synth.mail import NEWSLETTER, SEND_AFTER, events_for, events_since
from funnelflow.synth.webinar import HELD_WEEKS_BACK, past_webinar
from tests.factories import add_consent
from tests.metrics.helpers import EMAIL_FIGURES, add_lead
from tests.metrics.test_sales_webinars import TEAM_FILE

UNTIL = datetime(2026, 11, 23, 12, tzinfo=UTC)
WEEKS = 4  # replays UNTIL - 3, 2 and 1 weeks


def _demo_requests(conn, n: int = 40) -> dict[int, datetime]:
    """n leads, each arriving with a demo request (straight to SQL by config/sales_rules.yaml)."""
    arrived = {}
    for lead_id in range(1, n + 1):
        add_lead(conn, lead_id)
        at = UNTIL - timedelta(weeks=WEEKS) + timedelta(hours=13 * lead_id)  # spread over ~3 weeks
        conn.execute(
            touchpoints.insert().values(
                lead_id=lead_id,
                occurred_at=at,
                channel="web_form",
                touch_type="form_fill",
                source="website",
                page_url="https://example.com/demo",
            )
        )
        arrived[lead_id] = at
    return arrived


def test_history_moves_leads_in_their_own_weeks_and_never_before_they_arrived(engine):
    with engine.begin() as conn:
        arrived = _demo_requests(conn)
    team = team_from_text(TEAM_FILE, "sales_team.yaml")
    result = build_history(engine, team, load_active_rules(engine).rules, seed=42, until=UNTIL, weeks=WEEKS)
    replays = [UNTIL - timedelta(weeks=k) for k in (3, 2, 1)]
    assert [w.as_of for w in result.weeks] == replays

    with engine.connect() as conn:
        changes = conn.execute(sa.select(lifecycle_history)).mappings().all()
        items = conn.execute(sa.select(sales_queue)).mappings().all()
        actions = conn.execute(sa.select(sales_queue_history.c.at)).scalars().all()
        deals = conn.execute(sa.select(opportunities)).mappings().all()
    sql_entries = [c for c in changes if c["to_stage"] == "sql"]
    # Scored at each replay time, only the leads that had arrived: SQL entries at replay times,
    # never before the lead's demo request, and spread over more than one week.
    assert sql_entries and {c["changed_at"] for c in sql_entries} <= set(replays)
    assert all(c["changed_at"] >= arrived[c["lead_id"]] for c in changes)
    assert len({c["changed_at"] for c in sql_entries}) >= 2
    assert sum(w.became_sql for w in result.weeks) == len(sql_entries)
    # The SQLs became handoffs, routed at their replay times; nothing happened after UNTIL.
    handoffs = [i for i in items if i["kind"] == "handoff"]
    assert 0 < len(handoffs) == sum(w.routed for w in result.weeks) <= len(sql_entries)
    assert all(i["assigned_at"] in replays for i in handoffs if i["assigned_at"] is not None)
    assert max(actions) < UNTIL and all(c["changed_at"] < UNTIL for c in changes)
    # Feedback and deals went through the sales modules: outcomes recorded, customers from won deals.
    assert sum(w.accepted for w in result.weeks) == sum(1 for i in handoffs if i["first_action_at"]) - sum(
        w.rejected for w in result.weeks
    )
    won = {d["lead_id"] for d in deals if d["stage"] == "won" and d["kind"] == "new"}
    customers = {c["lead_id"] for c in changes if c["to_stage"] == "customer"}
    assert won and won == customers


def _with_consent(conn, arrived: dict[int, datetime]) -> None:
    for lead_id, at in arrived.items():
        add_consent(conn, lead_id, "granted", at=at, source="web_form")


def _email_tables(engine) -> tuple[list, list]:
    with engine.connect() as conn:
        sends = conn.execute(sa.select(email_sends).order_by(email_sends.c.id)).all()
        events = conn.execute(sa.select(email_events).order_by(email_events.c.id)).all()
    return sends, events


def _recount(engine, week: Week) -> dict[str, dict[str, int]]:
    """email_weekly's figures from the raw ledger, events and touchpoints, counted here in Python."""
    with engine.connect() as conn:
        sends = conn.execute(
            sa.select(email_sends.c.id, email_sends.c.campaign_id, email_sends.c.sent_at)
        ).all()
        events = conn.execute(sa.select(email_events)).mappings().all()
        scored_clicks = set(
            conn.execute(
                sa.select(touchpoints.c.source_ref).where(
                    touchpoints.c.touch_type == "email_click", touchpoints.c.scored.is_(True)
                )
            ).scalars()
        )
    campaign_of = {s.id: s.campaign_id or "(none)" for s in sends}
    out: dict[str, dict[str, set | int]] = defaultdict(lambda: defaultdict(set))
    for s in sends:
        if s.sent_at is not None and week.starts_at <= s.sent_at < week.ends_at:
            out[campaign_of[s.id]]["sent"].add(s.id)
    names = {
        "delivered": "delivered",
        "bounce": "bounced",
        "unsubscribe": "unsubscribes",
        "group_unsubscribe": "unsubscribes",
        "spamreport": "spam_reports",
    }
    for e in events:
        if e["send_id"] not in campaign_of or not week.starts_at <= e["occurred_at"] < week.ends_at:
            continue
        figures = out[campaign_of[e["send_id"]]]
        if e["event"] == "open" and not e["machine_open"]:
            figures["unique_opens"].add(e["send_id"])
        elif e["event"] == "click" and f"sendgrid:{e['sg_event_id']}" in scored_clicks:
            figures["unique_clicks"].add(e["send_id"])
        elif e["event"] in names:
            figures[names[e["event"]]].add(e["send_id"])
    return {campaign: {c: len(figures[c]) for c in EMAIL_FIGURES} for campaign, figures in out.items()}


def test_history_emails_each_week_once_and_the_report_counts_them_in_their_week(engine, tmp_path):
    with engine.begin() as conn:
        arrived = _demo_requests(conn, n=60)
        _with_consent(conn, arrived)
    team = team_from_text(TEAM_FILE, "sales_team.yaml")
    rules = load_active_rules(engine).rules
    outbox = tmp_path / "outbox"
    transport = OutboxTransport(outbox)
    result = build_history(engine, team, rules, seed=42, until=UNTIL, weeks=WEEKS, transport=transport)
    sends, events = _email_tables(engine)
    went = [s for s in sends if s.sent_at is not None]  # newsletters, and the past webinar's emails
    assert len(list(outbox.glob("*.eml"))) == len(went)
    # make demo's `synth events` over the same sends draws the same events: nothing new.
    assert events_since(engine, UNTIL - timedelta(weeks=WEEKS), UNTIL, seed=42) == 0
    assert _email_tables(engine) == (sends, events)
    assert sum(w.emailed for w in result.weeks) == sum(s.campaign_id == NEWSLETTER for s in went) > 0
    # Stamped in the replayed weeks (the clock was pinned), not on the day the test runs.
    assert sends and all(s.sent_at < UNTIL and s.claimed_at == s.sent_at for s in sends if s.sent_at)
    assert all(e.occurred_at < UNTIL and e.received_at < UNTIL and e.processed_at for e in events)
    # A person gets a week's newsletter once, and only after they arrived.
    per_week = Counter((s.lead_id, s.message_key) for s in sends)
    assert max(per_week.values()) == 1
    assert all(s.sent_at >= arrived[s.lead_id] for s in sends if s.sent_at)
    assert {e.event for e in events} >= {"delivered", "open", "click"}
    assert any(e.machine_open for e in events)

    week = Week.containing(UNTIL - timedelta(weeks=1) + SEND_AFTER)
    compute_week(engine, week, team)
    with engine.connect() as conn:
        rows = (
            conn.execute(sa.select(email_weekly).where(email_weekly.c.week_start == week.start))
            .mappings()
            .all()
        )
    got = {r["campaign"]: {k: r[k] for k in _recount(engine, week).get(r["campaign"], r)} for r in rows}
    assert got == _recount(engine, week)
    newsletter = got[NEWSLETTER]
    assert newsletter["sent"] > 0 and newsletter["delivered"] > 0 and newsletter["unique_opens"] > 0
    assert newsletter["sent"] == result.weeks[-1].emailed

    # A rerun over the same database emails nobody again and stores no event twice.
    again = build_history(engine, team, rules, seed=42, until=UNTIL, weeks=WEEKS, transport=transport)
    assert sum(w.emailed for w in again.weeks) == 0 and sum(w.email_events for w in again.weeks) == 0
    assert _email_tables(engine) == (sends, events)
    assert len(list(outbox.glob("*.eml"))) == len(went)
    # make demo's `synth events` over the same sends draws the same events: nothing new.
    assert events_since(engine, UNTIL - timedelta(weeks=WEEKS), UNTIL, seed=42) == 0
    assert _email_tables(engine) == (sends, events)


def test_history_holds_a_past_webinar_that_its_week_reports(engine, tmp_path):
    with engine.begin() as conn:
        arrived = _demo_requests(conn, n=60)
        _with_consent(conn, arrived)
    team = team_from_text(TEAM_FILE, "sales_team.yaml")
    rules = load_active_rules(engine).rules
    transport = OutboxTransport(tmp_path / "outbox")
    build_history(engine, team, rules, seed=42, until=UNTIL, weeks=WEEKS, transport=transport)
    held = past_webinar(UNTIL - timedelta(weeks=HELD_WEEKS_BACK))
    week = Week.containing(held.starts_at)
    compute_week(engine, week, team)
    with engine.connect() as conn:
        row = conn.execute(sa.select(webinar_weekly).where(webinar_weekly.c.week_start == week.start)).one()
        regs = conn.execute(sa.select(webinar_registrations.c.status)).scalars().all()
        invited = conn.execute(
            sa.select(sa.func.count(sa.distinct(email_sends.c.lead_id))).where(
                email_sends.c.template == "webinar_invitation", email_sends.c.sent_at.is_not(None)
            )
        ).scalar_one()
    assert row.webinar_id == held.slug and row.invited == invited > 0
    assert row.registered == len(regs) > 0
    assert (row.attended, row.no_show) == (regs.count("attended"), regs.count("no_show"))
    assert row.attended > 0


def test_events_of_a_send_stop_at_the_time_given():
    sent_at = datetime(2026, 11, 23, 12, 3, tzinfo=UTC)
    until = sent_at + timedelta(hours=5)
    for send_id in range(1, 400):
        send = SimpleNamespace(id=send_id, sent_at=sent_at, campaign_id="c", email=f"p{send_id}@x.io")
        drawn = events_for(send, 42, until)
        assert drawn == events_for(send, 42, until)  # from the seed alone
        assert drawn and all(sent_at.timestamp() < e["timestamp"] < until.timestamp() for e in drawn)
        assert {e["send_id"] for e in drawn} == {str(send_id)}
    assert events_for(send, 42, sent_at + timedelta(minutes=5)) == []
