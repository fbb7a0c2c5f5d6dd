"""Running a campaign: resolve and store the audience, send (test cells, winner, remainder), stop, results.

A run is named by its campaign and its as-of time (``run_key``); every message
of a run has the one message key ``campaign:<slug>:<run_key>``, so the send
ledger's (message key, recipient) uniqueness means nobody gets two messages of
one run, whatever crashes or reruns happen between the test cells and the
remainder. The ledger row records the subject variant sent.

1. ``resolve_audience``: the segment (minus ``exclude``) as of the run, stored in
   ``campaign_audiences`` with the A/B cells, once: a retry sends to the same people.
   Cells are a deterministic share of the *sendable* audience (a hash of campaign
   and lead below ``share``), alternated a/b in lead order (an even split).
2. ``send_phase``: ``all`` (no A/B test), ``test`` (each cell its subject) or
   ``rest`` (the remainder, the winning subject), through ``send_mailing``.
   ``campaigns stop`` is checked between chunks: the send ends, what went stays sent.
3. ``decide_winner``: unique human opens or clicks per delivered message
   (machine opens and scanner clicks are unscored touches and do not count);
   below ``min_per_variant`` deliveries or on a tie, ``a`` wins; the reason is stored.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from funnelflow.campaigns.config import Campaign
from funnelflow.campaigns.content import Body, render_markdown
from funnelflow.db.schema import (
    campaign_audiences,
    campaign_runs,
    email_events,
    email_sends,
    leads,
    suppressions,
    touchpoints,
    utcnow,
)
from funnelflow.email import policy
from funnelflow.email.send import Mailing, Recipient, SendOptions, SendReport, send_mailing
from funnelflow.email.transports import Transport
from funnelflow.identity import email_hash
from funnelflow.segments import compile_segment

log = logging.getLogger(__name__)

TEMPLATE = "newsletter"
CHUNK = 5000
SENT_OR_LATER = ("sent", "delivered", "bounced", "dropped", "unsettled")


def run_key(as_of: datetime) -> str:
    return as_of.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def message_key(slug: str, key: str) -> str:
    return f"campaign:{slug}:{key}"


def cell_fraction(slug: str, lead_id: int) -> float:
    """Where a lead falls in [0, 1) for this campaign: the same on every run and rerun."""
    digest = hashlib.sha256(f"{slug}:{lead_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class RunInfo:
    id: int
    campaign: str
    run_key: str
    status: str
    audience: int
    sendable: int
    winner: str | None
    stop_requested: bool

    @property
    def message_key(self) -> str:
        return message_key(self.campaign, self.run_key)


def _run_row(conn: sa.Connection, slug: str, key: str) -> RunInfo | None:
    row = conn.execute(
        sa.select(campaign_runs).where(campaign_runs.c.campaign == slug, campaign_runs.c.run_key == key)
    ).first()
    if row is None:
        return None
    return RunInfo(
        row.id,
        row.campaign,
        row.run_key,
        row.status,
        row.audience,
        row.sendable,
        row.winner,
        row.stop_requested_at is not None,
    )


def get_run(engine: sa.Engine, slug: str, as_of: datetime) -> RunInfo | None:
    with engine.connect() as conn:
        return _run_row(conn, slug, run_key(as_of))


# Airflow's cron timetables run the latest past slot as soon as a DAG is unpaused (or first appears) with
# catchup off: an edition that starts this long after its slot is skipped rather than sent days late.
LATE_EDITION = timedelta(hours=12)


def late_edition(
    engine: sa.Engine, slug: str, scheduled_at: datetime, started_at: datetime, *, scheduled: bool
) -> str | None:
    """Why a scheduled run should skip its edition, or None to send it.

    Only scheduled runs are judged (a manual trigger always sends), and only before the audience is
    resolved: a retry or a cleared run of an edition that started on time goes on with its stored audience.
    """
    late = started_at - scheduled_at
    if not scheduled or late <= LATE_EDITION or get_run(engine, slug, scheduled_at) is not None:
        return None
    return (
        f"the {scheduled_at:%Y-%m-%d %H:%M} UTC edition started {late.total_seconds() / 3600:.1f} h after "
        f"its slot (the DAG was paused, or added after the slot), more than {LATE_EDITION} late: skipped, "
        "nothing sent; trigger the DAG by hand to send it now"
    )


def segment_ids(conn: sa.Connection, campaign: Campaign, as_of: datetime) -> list[int]:
    """The campaign's segment (its audience minus ``exclude``) as of ``as_of``: lead ids in order."""
    return list(conn.execute(compile_segment(campaign.exclusion, as_of)).scalars())


def _sendable(conn: sa.Connection, rows: list[tuple[int, str | None]], as_of: datetime) -> list[bool]:
    """Per (lead id, email): would the sending layer send a marketing email now (address, consent,
    suppressions, cap)?"""
    hashes = [(lead_id, email_hash(email) if email else None) for lead_id, email in rows]
    candidates = [policy.Candidate(h, lead_id) for lead_id, h in hashes if h]
    reasons = policy.check_recipients(conn, candidates, policy.MARKETING, as_of)
    ok = {c.lead_id for c, r in zip(candidates, reasons, strict=True) if r is None}
    return [lead_id in ok for lead_id, _ in rows]


def _segment_chunks(
    engine: sa.Engine, campaign: Campaign, as_of: datetime
) -> Iterator[list[tuple[int, str | None]]]:
    """The segment with each lead's address, streamed in chunks (bounded memory at a million)."""
    stmt = compile_segment(campaign.exclusion, as_of).add_columns(leads.c.email)
    with engine.connect() as reader:
        chunk: list[tuple[int, str | None]] = []
        for lead_id, email in reader.execution_options(yield_per=CHUNK).execute(stmt):
            chunk.append((lead_id, email))
            if len(chunk) >= CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk


def sendable_mask(engine: sa.Engine, campaign: Campaign, as_of: datetime) -> tuple[list[int], list[bool]]:
    """The segment's lead ids and, per id, whether the sending layer would send to them now."""
    ids: list[int] = []
    mask: list[bool] = []
    with engine.connect() as conn:
        for chunk in _segment_chunks(engine, campaign, as_of):
            ids.extend(lead_id for lead_id, _ in chunk)
            mask.extend(_sendable(conn, chunk, as_of))
    return ids, mask


_INSERT_PG = sa.text(
    # One statement per chunk with two text parameters: executemany sends a round trip per row.
    "insert into campaign_audiences (run_id, lead_id, cell) "
    "select :run_id, l, nullif(c, '') from unnest(cast(string_to_array(:ids, ',') as bigint[]), "
    "string_to_array(:cells, ',')) as t(l, c)"
)


def _store(conn: sa.Connection, run_id: int, rows: list[tuple[int, str | None]]) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(
            _INSERT_PG,
            {
                "run_id": run_id,
                "ids": ",".join(str(lead_id) for lead_id, _ in rows),
                "cells": ",".join(cell or "" for _, cell in rows),
            },
        )
    else:
        conn.execute(
            sa.insert(campaign_audiences), [{"run_id": run_id, "lead_id": i, "cell": c} for i, c in rows]
        )


def resolve_audience(engine: sa.Engine, campaign: Campaign, as_of: datetime) -> RunInfo:
    """Store the run's audience and cells once, in one transaction; a retry or rerun returns what
    was stored."""
    key = run_key(as_of)
    ab = campaign.spec.ab_test
    with engine.begin() as conn:
        existing = _run_row(conn, campaign.slug, key)
        if existing is not None:
            return existing
        run_id = conn.execute(
            sa.insert(campaign_runs)
            .values(
                campaign=campaign.slug,
                run_key=key,
                as_of=as_of,
                status="resolved",
                audience=0,
                sendable=0,
                resolved_at=utcnow(),
            )
            .returning(campaign_runs.c.id)
        ).scalar_one()
        audience = sendable = in_test = 0
        for chunk in _segment_chunks(engine, campaign, as_of):
            mask = _sendable(conn, chunk, as_of)
            rows: list[tuple[int, str | None]] = []
            for (lead_id, _), ok in zip(chunk, mask, strict=True):
                cell = None
                if ab is not None and ok and cell_fraction(campaign.slug, lead_id) < ab.share:
                    cell = "ab"[in_test % 2]  # alternating in lead order: an even split
                    in_test += 1
                rows.append((lead_id, cell))
            _store(conn, run_id, rows)
            audience += len(chunk)
            sendable += sum(mask)
        conn.execute(
            sa.update(campaign_runs)
            .where(campaign_runs.c.id == run_id)
            .values(audience=audience, sendable=sendable)
        )
        info = _run_row(conn, campaign.slug, key)
    assert info is not None
    log.info(
        "campaign %s run %s: %d in the segment, %d sendable, %d in test cells",
        campaign.slug,
        key,
        info.audience,
        info.sendable,
        in_test,
    )
    return info


# --- sending -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _subject_template(text: str):
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False).from_string(text)


_NAME_SLOT = "\x00first_name\x00"


def _render_subject(text: str, name: str) -> str:
    return _subject_template(text).render(first_name=name).strip()


@functools.lru_cache(maxsize=16)
def _subject_fast(text: str) -> tuple[str, ...] | None:
    """The subject split where the name goes, when it only prints text and ``{{ first_name }}`` as is
    (no filters, no conditions): then joining the parts with the name is exactly what Jinja2 renders."""
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

    tree = SandboxedEnvironment().parse(text)
    plain = all(
        isinstance(out, nodes.Output)
        and all(
            isinstance(n, nodes.TemplateData) or (isinstance(n, nodes.Name) and n.name == "first_name")
            for n in out.nodes
        )
        for out in tree.body
    )
    return tuple(_render_subject(text, _NAME_SLOT).split(_NAME_SLOT)) if plain else None


def subject_for(campaign: Campaign, variant: str, first_name: str | None) -> str:
    """The subject line as this person gets it (a million renders: a split string, not Jinja2 each time)."""
    from funnelflow.email.welcome import greeting_name

    text = campaign.subject_of(variant)
    parts = _subject_fast(text)
    if parts is not None and len(parts) == 1:  # no name in it: the same line for everyone
        return parts[0].strip()
    name = greeting_name(first_name)
    return name.join(parts).strip() if parts is not None else _render_subject(text, name)


def body_of(campaign: Campaign) -> Body:
    return render_markdown(campaign.markdown_path.read_text(encoding="utf-8"), campaign.slug)


def person_values(
    campaign: Campaign,
    body: Body,
    variant: str,
    lead_id: int | None,
    first_name: str | None,
    offer_links: Callable[[str, int], str] | None = None,
) -> dict[str, str]:
    """Per-person template values: the subject line and, with an offer link in the body, their own offer
    link."""
    values = {"subject_line": subject_for(campaign, variant, first_name)}
    if body.has_offer_link:
        if offer_links is None:
            from funnelflow.campaigns.offers import offer_url as offer_links
        values["offer_url"] = offer_links(campaign.slug, lead_id or 0)
    return values


def mailing_for(
    campaign: Campaign, body: Body, key: str, variant: str, kind: str = policy.MARKETING
) -> Mailing:
    return Mailing(
        message_key=key,
        template=TEMPLATE,
        kind=kind,
        context={"body_html": body.html, "body_text": body.text},
        campaign_id=campaign.slug,
        variant=variant,
    )


def _stop_requested(engine: sa.Engine, run_id: int) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                sa.select(campaign_runs.c.stop_requested_at).where(campaign_runs.c.id == run_id)
            ).scalar()
            is not None
        )


def _recipients(
    engine: sa.Engine,
    campaign: Campaign,
    body: Body,
    run: RunInfo,
    cell: str | None,
    variant: str,
    chunk: int,
    stopped: list[bool],
) -> Iterator[Recipient]:
    """The stored audience of one cell (None: the remainder), checking for a stop before every chunk."""
    stmt = (
        sa.select(leads.c.id, leads.c.email, leads.c.first_name)
        .join(campaign_audiences, campaign_audiences.c.lead_id == leads.c.id)
        .where(
            campaign_audiences.c.run_id == run.id,
            campaign_audiences.c.cell.is_(None) if cell is None else campaign_audiences.c.cell == cell,
            leads.c.email.is_not(None),
        )
        .order_by(leads.c.id)
    )
    from funnelflow.campaigns.offers import offer_url_maker

    offer_links = offer_url_maker()
    with engine.connect() as conn:
        for n, (lead_id, email, first_name) in enumerate(
            conn.execution_options(yield_per=2000).execute(stmt)
        ):
            if n % chunk == 0 and _stop_requested(engine, run.id):
                stopped[0] = True
                log.warning(
                    "campaign %s run %s: stop requested; the send ends here", run.campaign, run.run_key
                )
                return
            yield Recipient(
                email=email,
                lead_id=lead_id,
                values=person_values(campaign, body, variant, lead_id, first_name, offer_links),
            )


def _set_status(engine: sa.Engine, run_id: int, status: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.update(campaign_runs).where(campaign_runs.c.id == run_id).values(status=status, **values)
        )


PHASES = ("all", "test", "rest")


def send_phase(
    engine: sa.Engine,
    campaign: Campaign,
    as_of: datetime,
    phase: str,
    transport: Transport,
    options: SendOptions | None = None,
    on_breaker: Callable[[policy.BreakerState], None] | None = None,
) -> dict[str, Any]:
    """Send one phase of a resolved run; returns counts per variant and whether a stop ended it."""
    if phase not in PHASES:
        raise ValueError(f"phase must be one of {PHASES}")
    run = get_run(engine, campaign.slug, as_of)
    if run is None:
        raise RuntimeError(
            f"campaign {campaign.slug}: run {run_key(as_of)} has no stored audience; resolve it first"
        )
    if run.status == "stopped" or run.stop_requested:
        if run.status == "stopped":
            # This task runs again after a stop (cleared by an operator): continue where it ended.
            _set_status(engine, run.id, "resolved" if phase != "rest" else "tested", stop_requested_at=None)
            run = get_run(engine, campaign.slug, as_of)
            assert run is not None
    opts = options or SendOptions.from_settings()
    body = body_of(campaign)
    if phase == "rest":
        if run.winner is None:
            raise RuntimeError(f"campaign {campaign.slug}: no winner decided for run {run.run_key}")
        plan: list[tuple[str | None, str]] = [(None, run.winner)]
    elif phase == "test":
        plan = [("a", "a"), ("b", "b")]
    else:
        plan = [(None, "a")]
    _set_status(engine, run.id, {"test": "testing", "rest": "sending", "all": "sending"}[phase])
    stopped = [False]
    out: dict[str, Any] = {"run_key": run.run_key, "phase": phase, "variants": {}}
    for cell, variant in plan:
        report: SendReport = send_mailing(
            engine,
            mailing_for(campaign, body, run.message_key, variant),
            _recipients(engine, campaign, body, run, cell, variant, max(1, opts.chunk_size), stopped),
            transport,
            as_of=as_of,
            options=opts,
            on_breaker=on_breaker,
        )
        out["variants"][variant] = report.as_dict()
        if stopped[0] or report.paused:
            break
    out["stopped"] = stopped[0]
    if stopped[0]:
        _set_status(engine, run.id, "stopped")
    elif any(v.get("paused") for v in out["variants"].values()):
        out["paused"] = True  # the circuit breaker: nothing claimed; the task's retry tries again
    else:
        _set_status(
            engine,
            run.id,
            "tested" if phase == "test" else "done",
            **({} if phase == "test" else {"finished_at": utcnow()}),
        )
    return out


def request_stop(engine: sa.Engine, slug: str, now: datetime) -> int:
    """``campaigns stop``: every unfinished run of the campaign stops between chunks. Returns how many."""
    with engine.begin() as conn:
        return conn.execute(
            sa.update(campaign_runs)
            .where(
                campaign_runs.c.campaign == slug,
                campaign_runs.c.status.not_in(("done", "stopped")),
                campaign_runs.c.stop_requested_at.is_(None),
            )
            .values(stop_requested_at=now)
        ).rowcount


# --- the A/B decision -------------------------------------------------------------------------------


def _human_touched(slug: str, touch_type: str) -> sa.Subquery:
    """Send ids with at least one scored (human) touch of this type: machine opens and scanner clicks are
    unscored."""
    send_id = touchpoints.c.detail["send_id"].as_integer()
    return (
        sa.select(send_id.label("send_id"))
        .where(
            touchpoints.c.campaign == slug,
            touchpoints.c.touch_type == touch_type,
            touchpoints.c.scored.is_(True),
        )
        .distinct()
        .subquery()
    )


def variant_stats(conn: sa.Connection, slug: str, key: str) -> dict[str, dict[str, int]]:
    """Per variant of one run: sent, delivered, unique human opens and clicks (of delivered), unsubscribes,
    bounces, spam reports."""
    s = email_sends.c
    out: dict[str, dict[str, int]] = {}
    base = sa.select(s.variant, sa.func.count()).where(s.message_key == key).group_by(s.variant)
    for variant, n in conn.execute(base.where(s.status.in_(SENT_OR_LATER))):
        out.setdefault(variant or "a", _zero())["sent"] = n
    for variant, n in conn.execute(base.where(s.status == "delivered")):
        out.setdefault(variant or "a", _zero())["delivered"] = n
    for variant, n in conn.execute(base.where(s.status == "bounced")):
        out.setdefault(variant or "a", _zero())["bounces"] = n
    for name, touch in (("opens", "email_open"), ("clicks", "email_click")):
        human = _human_touched(slug, touch)
        for variant, n in conn.execute(
            base.join(human, human.c.send_id == s.id).where(s.status == "delivered")
        ):
            out.setdefault(variant or "a", _zero())[name] = n
    spam = sa.select(email_events.c.send_id).where(email_events.c.event == "spamreport")
    for variant, n in conn.execute(base.where(s.id.in_(spam))):
        out.setdefault(variant or "a", _zero())["spam_reports"] = n
    unsub = sa.exists().where(
        suppressions.c.email_hash == s.recipient_hash,
        suppressions.c.reason.in_(("unsubscribe", "group_unsubscribe")),
        suppressions.c.created_at >= s.claimed_at,
    )
    for variant, n in conn.execute(base.where(s.status.in_(SENT_OR_LATER), unsub)):
        out.setdefault(variant or "a", _zero())["unsubscribes"] = n
    return out


def _zero() -> dict[str, int]:
    return dict.fromkeys(
        ("sent", "delivered", "opens", "clicks", "unsubscribes", "bounces", "spam_reports"), 0
    )


def pick_winner(
    stats: dict[str, dict[str, int]], metric: str, min_per_variant: int
) -> tuple[str, dict[str, Any]]:
    """The rule, as a pure function: the higher rate wins; too few deliveries or a tie give ``a``, with the
    reason."""
    a, b = stats.get("a", _zero()), stats.get("b", _zero())
    rates = {v: (s[metric] / s["delivered"] if s["delivered"] else 0.0) for v, s in (("a", a), ("b", b))}
    decision: dict[str, Any] = {
        "metric": metric,
        "rates": rates,
        "delivered": {"a": a["delivered"], "b": b["delivered"]},
    }
    delivered = {"a": a["delivered"], "b": b["delivered"]}
    small = [v for v in ("a", "b") if delivered[v] < min_per_variant]
    if small:
        decision["reason"] = (
            f"too few deliveries to judge ({', '.join(f'{v}: {delivered[v]}' for v in small)}; "
            f"need {min_per_variant} each): a by default"
        )
        return "a", decision
    if rates["a"] == rates["b"]:
        decision["reason"] = f"tie on {metric} ({rates['a']:.2%} each): a by default"
        return "a", decision
    winner = "a" if rates["a"] > rates["b"] else "b"
    decision["reason"] = (
        f"higher {metric} rate ({rates[winner]:.2%} against {rates['b' if winner == 'a' else 'a']:.2%})"
    )
    return winner, decision


def decide_winner(engine: sa.Engine, campaign: Campaign, as_of: datetime) -> dict[str, Any]:
    """Pick and store the winner once; a rerun returns the stored decision."""
    ab = campaign.spec.ab_test
    if ab is None:
        raise ValueError(f"campaign {campaign.slug} has no A/B test")
    run = get_run(engine, campaign.slug, as_of)
    if run is None:
        raise RuntimeError(f"campaign {campaign.slug}: run {run_key(as_of)} has no stored audience")
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(campaign_runs.c.winner, campaign_runs.c.decision).where(campaign_runs.c.id == run.id)
        ).one()
        if row.winner is not None:
            return {"winner": row.winner, **(row.decision or {})}
        stats = variant_stats(conn, campaign.slug, run.message_key)
        winner, decision = pick_winner(stats, ab.metric, ab.min_per_variant)
        conn.execute(
            sa.update(campaign_runs)
            .where(campaign_runs.c.id == run.id, campaign_runs.c.winner.is_(None))
            .values(winner=winner, decision=decision, decided_at=utcnow())
        )
    log.info("campaign %s run %s: winner %s (%s)", campaign.slug, run.run_key, winner, decision["reason"])
    return {"winner": winner, **decision}


def results(engine: sa.Engine, slug: str) -> list[dict[str, Any]]:
    """Every run of the campaign, newest first: counts per variant and the decision."""
    out = []
    with engine.connect() as conn:
        runs = conn.execute(
            sa.select(campaign_runs)
            .where(campaign_runs.c.campaign == slug)
            .order_by(campaign_runs.c.as_of.desc())
        ).all()
        for r in runs:
            out.append(
                {
                    "run_key": r.run_key,
                    "status": r.status,
                    "audience": r.audience,
                    "sendable": r.sendable,
                    "winner": r.winner,
                    "decision": (r.decision or {}).get("reason"),
                    "variants": variant_stats(conn, slug, message_key(slug, r.run_key)),
                }
            )
    return out
