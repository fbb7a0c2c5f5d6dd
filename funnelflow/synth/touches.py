"""Touchpoints and engagement over the weeks before ``until``, vectorized.

Each lead's first touch is how it arrived (a form fill, an import, an ad lead
form, a webinar registration) at its ``first_seen_at``; later touches (email
opens and clicks, page views, more forms, webinars) fall between then and
``until``. Everything is derived from the seed and ``until``, never the clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from funnelflow.db.schema import TOUCH_TYPES
from funnelflow.synth import vocab
from funnelflow.synth.people import STREAM_TOUCHES, rng_for

TOUCH_COLUMNS = (
    "lead_id", "occurred_at", "channel", "touch_type", "source", "campaign", "utm_source", "utm_medium",
    "utm_campaign", "utm_term", "utm_content", "page_url", "detail", "source_ref", "scored",
)
# touch_type -> channel, source name (as in sources config), weight as a later touch
_TOUCH = {
    "form_fill": ("web_form", "website", 0.07),
    "import": ("file_import", None, 0.02),
    "ad_lead": ("ad_form", None, 0.02),
    "webinar_registered": ("webinar", "webinar-platform", 0.05),
    "webinar_attended": ("webinar", "webinar-platform", 0.03),
    "email_open": ("email", "sendgrid", 0.4),
    "email_click": ("email", "sendgrid", 0.13),
    "page_view": ("web", "website", 0.28),
}
FIRST_TOUCH_P = {"form_fill": 0.45, "import": 0.3, "ad_lead": 0.15, "webinar_registered": 0.1}
IMPORT_SOURCES = ("tradeshow-2026-berlin", "tradeshow-2026-paris", "list-upload", "crm-export", "partner-referrals")
AD_SOURCES = ("linkedin-lead-gen", "facebook-lead-ads")
WEBINARS = ("webinar-lead-scoring-101", "webinar-attribution-2026", "webinar-email-deliverability")
EMAIL_CAMPAIGNS = ("newsletter-weekly", "nurture-welcome", "nurture-pricing", "webinar-invite", "product-update-nov")
assert set(_TOUCH) <= set(TOUCH_TYPES)


def _p(w) -> np.ndarray:
    w = np.asarray(w, dtype=float)
    return w / w.sum()


def _as_s(until: datetime) -> np.datetime64:
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    return np.datetime64(until.astimezone(UTC).replace(tzinfo=None), "s")


def touch_counts(rng: np.random.Generator, n: int, per_lead: float) -> np.ndarray:
    """How many touches each lead has: at least one (its arrival), ``per_lead`` on average."""
    if per_lead <= 0:
        return np.zeros(n, dtype=np.int64)
    return 1 + rng.poisson(max(per_lead - 1, 0), size=n)


def generate_touchpoints(
    lead_ids: np.ndarray,
    first_seen: np.ndarray,
    *,
    until: datetime,
    seed: int = 0,
    per_lead: float = 10,
    block: int = 0,
    ref_prefix: str = "synth",
) -> pd.DataFrame:
    """Touchpoints of these leads (``first_seen`` as datetime64[s], UTC) with ``TOUCH_COLUMNS``.

    ``occurred_at`` is datetime64[s] in UTC; ``source_ref`` is unique per lead id and touch number.
    """
    lead_ids = np.asarray(lead_ids, dtype=np.int64)
    first_seen = np.asarray(first_seen, dtype="datetime64[s]")
    rng = rng_for(seed, STREAM_TOUCHES, block)
    counts = touch_counts(rng, len(lead_ids), per_lead)
    total = int(counts.sum())
    lead = np.repeat(lead_ids, counts)
    seen = np.repeat(first_seen, counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    nth = np.arange(total) - starts  # 0 = the arrival
    end = _as_s(until)
    span = (end - seen).astype(np.int64)
    span = np.maximum(span, 1)
    occurred = seen + (rng.random(total) * span).astype("timedelta64[s]")
    first = nth == 0
    occurred[first] = seen[first]

    later_types = list(_TOUCH)
    t_later = rng.choice(len(later_types), size=total, p=_p([_TOUCH[t][2] for t in later_types]))
    first_types = list(FIRST_TOUCH_P)
    t_first = rng.choice(len(first_types), size=total, p=_p(list(FIRST_TOUCH_P.values())))
    type_idx = np.where(first, np.array([later_types.index(t) for t in first_types])[t_first], t_later)
    types_arr = np.array(later_types, dtype=object)
    touch_type = types_arr[type_idx]
    channel = np.array([_TOUCH[t][0] for t in later_types], dtype=object)[type_idx]
    source = np.array([_TOUCH[t][1] for t in later_types], dtype=object)[type_idx]
    is_import = touch_type == "import"
    source[is_import] = np.array(IMPORT_SOURCES, dtype=object)[rng.integers(0, len(IMPORT_SOURCES), int(is_import.sum()))]
    is_ad = touch_type == "ad_lead"
    source[is_ad] = np.array(AD_SOURCES, dtype=object)[rng.integers(0, len(AD_SOURCES), int(is_ad.sum()))]

    # UTM fields: web touches carry the visit's UTMs; email touches their campaign; imports none.
    utm_names = list(vocab.UTM_SOURCES)
    us = rng.choice(len(utm_names), size=total, p=_p([vocab.UTM_SOURCES[s][1] for s in utm_names]))
    utm_source = np.array(utm_names, dtype=object)[us]
    medium_table = np.array([vocab.UTM_SOURCES[s][0][0] for s in utm_names], dtype=object)
    medium_alt = np.array([vocab.UTM_SOURCES[s][0][-1] for s in utm_names], dtype=object)
    utm_medium = np.where(rng.random(total) < 0.7, medium_table[us], medium_alt[us])
    campaigns = np.array(vocab.UTM_CAMPAIGNS, dtype=object)
    utm_campaign = campaigns[rng.integers(0, len(campaigns), size=total)]
    utm_term = np.array(vocab.UTM_TERMS, dtype=object)[rng.integers(0, len(vocab.UTM_TERMS), size=total)]
    utm_content = np.array(vocab.UTM_CONTENTS, dtype=object)[rng.integers(0, len(vocab.UTM_CONTENTS), size=total)]
    utm_term[utm_term == ""] = None
    utm_content[utm_content == ""] = None
    is_email = channel == "email"
    email_campaign = np.array(EMAIL_CAMPAIGNS, dtype=object)[rng.integers(0, len(EMAIL_CAMPAIGNS), size=total)]
    utm_source[is_email] = "newsletter"
    utm_medium[is_email] = "email"
    utm_campaign[is_email] = email_campaign[is_email]
    is_ad_utm = is_ad
    utm_source[is_ad_utm] = np.where(source[is_ad_utm] == "linkedin-lead-gen", "linkedin", "facebook")
    utm_medium[is_ad_utm] = "cpc"
    no_utm = is_import | (~is_email & ~is_ad & (rng.random(total) < 0.3))
    for arr in (utm_source, utm_medium, utm_campaign, utm_term, utm_content):
        arr[no_utm] = None
    utm_term[is_email] = None
    campaign = utm_campaign.copy()
    is_webinar = channel == "webinar"
    campaign[is_webinar] = np.array(WEBINARS, dtype=object)[rng.integers(0, len(WEBINARS), int(is_webinar.sum()))]
    campaign[is_import] = source[is_import]

    page_url = np.full(total, None, dtype=object)
    is_form = touch_type == "form_fill"
    form_pages = np.array([vocab.SITE + p for p, _ in vocab.FORM_PAGES], dtype=object)
    page_url[is_form] = form_pages[rng.choice(len(form_pages), size=int(is_form.sum()), p=_p([w for _, w in vocab.FORM_PAGES]))]
    is_view = touch_type == "page_view"
    view_pages = np.array([vocab.SITE + p for p, _ in vocab.VIEW_PAGES], dtype=object)
    view_idx = rng.choice(len(view_pages), size=int(is_view.sum()), p=_p([w for _, w in vocab.VIEW_PAGES]))
    page_url[is_view] = view_pages[view_idx]

    # detail: the url of a page view or email click (JSON text, ready for COPY or a JSON column).
    detail = np.full(total, None, dtype=object)
    view_json = np.array([json.dumps({"url": u}) for u in view_pages], dtype=object)
    detail[is_view] = view_json[view_idx]
    is_click = touch_type == "email_click"
    click_json = np.array([json.dumps({"url": vocab.SITE + p}) for p, _ in vocab.VIEW_PAGES], dtype=object)
    detail[is_click] = click_json[rng.integers(0, len(click_json), int(is_click.sum()))]
    # Apple Mail privacy opens: kept, not scored.
    scored = ~((touch_type == "email_open") & (rng.random(total) < 0.15))

    lead_str = pd.Series(lead).astype(str).to_numpy(dtype=object)
    nth_str = pd.Series(nth).astype(str).to_numpy(dtype=object)
    source_ref = ref_prefix + ":" + lead_str + ":" + nth_str
    return pd.DataFrame({
        "lead_id": lead, "occurred_at": occurred, "channel": channel, "touch_type": touch_type, "source": source,
        "campaign": campaign, "utm_source": utm_source, "utm_medium": utm_medium, "utm_campaign": utm_campaign,
        "utm_term": utm_term, "utm_content": utm_content, "page_url": page_url, "detail": detail,
        "source_ref": source_ref, "scored": scored,
    })

