"""Limited-time offers: a signed link per person, one claim per person, never more claims than the limit.

The link is ``{FUNNELFLOW_PUBLIC_URL}/offers/{token}``; the token names the
campaign and the lead (never an address) and is signed with
FUNNELFLOW_SECRET_KEY. A claim is a touchpoint ``offer_claimed`` whose
``source_ref`` is ``offer:<campaign>:<lead>`` (unique: once per person, scored
by config/scoring.yaml like any touch), counted in ``campaign_offers`` by one
conditional UPDATE (``claims < claim_limit``) in the same transaction, with a
check constraint behind it: concurrent clicks can never claim more than the limit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from funnelflow.campaigns.config import Campaign
from funnelflow.db.schema import campaign_offers, leads, touchpoints
from funnelflow.email import tokens

PURPOSE = "offer"  # a scoped purpose of funnelflow.email.tokens: the campaign slug and the lead id


def make_offer_token(slug: str, lead_id: int) -> str:
    return tokens.make_scoped_token(PURPOSE, slug, lead_id)


def read_offer_token(token: str) -> tuple[str, int]:
    """``(campaign slug, lead id)`` of a valid token; ``tokens.InvalidToken`` otherwise.

    Links sent before offers moved onto the shared scoped tokens read ``<slug>.<lead>.<signature>``
    with the very signature the scoped token carries (an HMAC of ``offer:<slug>:<lead>`` with the
    same key), so they stay valid: they are read as the scoped token with its purpose prefix added.
    """
    if token.count(".") == 2:  # the earlier spelling (a slug has no dot)
        token = f"{tokens.SCOPED_PURPOSES.index(PURPOSE)}.{token}"
    return tokens.read_scoped_token(PURPOSE, token)


def offer_url(slug: str, lead_id: int) -> str:
    return offer_url_maker()(slug, lead_id)


def offer_url_maker() -> Callable[[str, int], str]:
    """``offer_url`` with the key and the public URL read once, for a whole send."""
    from funnelflow.email.send import public_url

    base, make = f"{public_url()}/offers/", tokens.scoped_token_maker(PURPOSE)

    def url(slug: str, lead_id: int) -> str:
        return base + make(slug, lead_id)

    return url


@dataclass(frozen=True)
class ClaimOutcome:
    status: str  # open (GET only) | claimed | already | expired | sold_out | unknown
    redirect_to: str | None = None


def offer_state(engine: sa.Engine, campaign: Campaign, lead_id: int, now: datetime) -> ClaimOutcome:
    """What a claim would find, reading only (the link's GET): mail scanners open links, so only the
    POST of the page's button claims. ``open`` means a claim may succeed (the limit is settled by
    ``claim_offer``); ``already``: this person claimed (their button sends them on again)."""
    offer = campaign.spec.offer
    if offer is None:
        return ClaimOutcome("unknown")
    source_ref = f"offer:{campaign.slug}:{lead_id}"
    claimed = sa.select(touchpoints.c.id).where(touchpoints.c.source_ref == source_ref).exists()
    counted = (
        sa.select(campaign_offers.c.claims)
        .where(campaign_offers.c.campaign == campaign.slug)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(leads.c.erased_at, claimed.label("claimed"), counted.label("claims")).where(
                leads.c.id == lead_id
            )
        ).first()
    if row is None or row.erased_at is not None:
        return ClaimOutcome("unknown")
    if row.claimed:
        return ClaimOutcome("already")
    if now >= offer.expires_at:
        return ClaimOutcome("expired")
    if (row.claims or 0) >= offer.limit:
        return ClaimOutcome("sold_out")
    return ClaimOutcome("open")


def _insert(conn: sa.Connection, table: sa.Table):
    from sqlalchemy.dialects import postgresql, sqlite

    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def claim_offer(engine: sa.Engine, campaign: Campaign, lead_id: int, now: datetime) -> ClaimOutcome:
    """Record the claim once per person, within the expiry and the limit; say where to send the browser."""
    from funnelflow.campaigns.content import with_utm

    offer = campaign.spec.offer
    if offer is None:
        return ClaimOutcome("unknown")
    target = with_utm(offer.url, campaign.slug)
    source_ref = f"offer:{campaign.slug}:{lead_id}"
    try:
        return _claim(engine, campaign, lead_id, now, source_ref, target)
    except _SoldOut:  # the transaction rolled back: no touch, no count
        return ClaimOutcome("sold_out")


class _SoldOut(Exception):
    pass


def _claim(
    engine: sa.Engine, campaign: Campaign, lead_id: int, now: datetime, source_ref: str, target: str
) -> ClaimOutcome:
    offer = campaign.spec.offer
    assert offer is not None
    with engine.begin() as conn:
        person = conn.execute(
            sa.select(leads.c.id, leads.c.erased_at, leads.c.merged_into_id).where(leads.c.id == lead_id)
        ).first()
        if person is None or person.erased_at is not None:
            return ClaimOutcome("unknown")
        already = conn.execute(
            sa.select(touchpoints.c.id).where(touchpoints.c.source_ref == source_ref)
        ).first()
        if already is not None:
            return ClaimOutcome("already", target)  # a second click redirects again, no second claim
        if now >= offer.expires_at:
            return ClaimOutcome("expired")
        conn.execute(
            _insert(conn, campaign_offers)
            .values(campaign=campaign.slug, claim_limit=offer.limit, claims=0)
            .on_conflict_do_nothing(index_elements=["campaign"])
        )
        # The file is the truth: a raised limit applies at once (a lowered one too, without undoing claims).
        conn.execute(
            sa.update(campaign_offers)
            .where(
                campaign_offers.c.campaign == campaign.slug,
                campaign_offers.c.claim_limit != offer.limit,
                campaign_offers.c.claims <= offer.limit,
            )
            .values(claim_limit=offer.limit)
        )
        inserted = conn.execute(
            _insert(conn, touchpoints)
            .values(
                lead_id=person.merged_into_id or lead_id,
                occurred_at=now,
                channel="email",
                touch_type="offer_claimed",
                source="campaign-offer",
                campaign=campaign.slug,
                page_url=offer.url,
                detail={"campaign": campaign.slug},
                source_ref=source_ref,
                scored=True,
            )
            .on_conflict_do_nothing(index_elements=["source_ref"])
            .returning(touchpoints.c.id)
        ).first()
        if inserted is None:  # the same person's other click won the race
            return ClaimOutcome("already", target)
        # The limit as one conditional UPDATE: PostgreSQL's row lock (SQLite's single writer) serializes
        # concurrent claims; the loser sees claims = limit, updates nothing, and its claim is rolled back.
        counted = conn.execute(
            sa.update(campaign_offers)
            .where(
                campaign_offers.c.campaign == campaign.slug,
                campaign_offers.c.claims < campaign_offers.c.claim_limit,
                campaign_offers.c.claims < offer.limit,  # a lowered limit in the file applies at once
            )
            .values(claims=campaign_offers.c.claims + 1)
        ).rowcount
        if counted != 1:
            raise _SoldOut
    return ClaimOutcome("claimed", target)


def claims_of(engine: sa.Engine, slug: str) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.coalesce(sa.func.max(campaign_offers.c.claims), 0)).where(
                campaign_offers.c.campaign == slug
            )
        ).scalar_one()
