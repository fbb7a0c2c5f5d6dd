"""See a campaign before it goes out: files as a person would get them, and a test send to the team.

Both render through the same template, body and per-person values as the real
send (``funnelflow.campaigns.run``), so what you preview is what goes out.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from funnelflow.campaigns.config import Campaign
from funnelflow.campaigns.run import TEMPLATE, body_of, mailing_for, person_values
from funnelflow.db.schema import leads
from funnelflow.email import policy, render
from funnelflow.email.send import Recipient, SendOptions, send_mailing, unsubscribe_url
from funnelflow.email.transports import Transport


def write_preview(
    campaign: Campaign, out: Path, engine: sa.Engine | None = None, lead_id: int | None = None
) -> list[Path]:
    """``<slug>.<variant>.html`` and ``.txt`` (subject on the first line of the text) in ``out``."""
    first_name = None
    if lead_id is not None and engine is not None:
        with engine.connect() as conn:
            row = conn.execute(sa.select(leads.c.first_name).where(leads.c.id == lead_id)).first()
        if row is None:
            raise ValueError(f"no lead {lead_id}")
        first_name = row.first_name
    body = body_of(campaign)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for variant in campaign.variants:
        values = person_values(campaign, body, variant, lead_id, first_name)
        context = {**mailing_for(campaign, body, "preview", variant).context, **values}
        context["unsubscribe_url"] = unsubscribe_url(0)  # the real link names the send; this one names none
        rendered = render.render(TEMPLATE, context)
        html_path = out / f"{campaign.slug}.{variant}.html"
        text_path = out / f"{campaign.slug}.{variant}.txt"
        html_path.write_text(rendered.html, encoding="utf-8")
        text_path.write_text(f"Subject: {rendered.subject}\n\n{rendered.text}", encoding="utf-8")
        written += [html_path, text_path]
    return written


def send_to_test_recipients(
    engine: sa.Engine,
    campaign: Campaign,
    transport: Transport,
    now: datetime,
    options: SendOptions | None = None,
) -> dict[str, Any]:
    """Each variant to ``test_recipients`` only, as transactional mail (they need no consent), under a new
    key each time."""
    body = body_of(campaign)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    out: dict[str, Any] = {}
    for variant in campaign.variants:
        mailing = mailing_for(
            campaign, body, f"campaign-test:{campaign.slug}:{stamp}:{variant}", variant, policy.TRANSACTIONAL
        )
        values = person_values(campaign, body, variant, None, None)
        values["subject_line"] = f"[TEST {variant}] {values['subject_line']}"
        recipients = [Recipient(email=address, values=values) for address in campaign.spec.test_recipients]
        out[variant] = send_mailing(
            engine, mailing, recipients, transport, as_of=now, options=options
        ).as_dict()
    return out
