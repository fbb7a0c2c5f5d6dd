"""Touchpoints and engagement over the weeks before ``until``, vectorized.

Each lead's first touch is how it arrived (a form fill, an import, an ad lead
form, a webinar registration) at its ``first_seen_at``; later touches (email
opens and clicks, page views, more forms, webinars) fall between then and
``until``. Everything is derived from the seed and ``until``, never the clock.

Internally a touch is a handful of small integer codes into the lookup tables
of ``LOOKUPS`` (code 0 is NULL): ten million touches are a few hundred MB of
numbers, not of Python strings, and PostgreSQL can expand them itself.
``generate_touchpoints`` turns them into text columns for everyone else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from funnelflow.db.schema import TOUCH_TYPES
from funnelflow.synth import vocab
from funnelflow.synth.people import STREAM_TOUCHES, object_frame, rng_for

TOUCH_COLUMNS = (
    "lead_id",
    "occurred_at",
    "channel",
    "touch_type",
    "source",
    "campaign",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "page_url",
    "detail",
    "source_ref",
    "scored",
)
# touch_type -> channel, fixed source (as named in sources config), weight as a later touch
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
IMPORT_SOURCES = (
    "tradeshow-2026-berlin",
    "tradeshow-2026-paris",
    "list-upload",
    "crm-export",
    "partner-referrals",
)
AD_SOURCES = ("linkedin-lead-gen", "facebook-lead-ads")
WEBINARS = ("webinar-lead-scoring-101", "webinar-attribution-2026", "webinar-email-deliverability")
EMAIL_CAMPAIGNS = (
    "newsletter-weekly",
    "nurture-welcome",
    "nurture-pricing",
    "webinar-invite",
    "product-update-nov",
)
if not set(_TOUCH) <= set(TOUCH_TYPES):
    raise RuntimeError("synth touch types must be funnelflow.db.schema.TOUCH_TYPES")

_TYPES = tuple(_TOUCH)
_UTM_SOURCES = tuple(vocab.UTM_SOURCES)
_MEDIUMS = tuple(sorted({m for ms, _ in vocab.UTM_SOURCES.values() for m in ms} | {"email", "cpc"}))
_FORM_PAGES = tuple(vocab.SITE + p for p, _ in vocab.FORM_PAGES)
_VIEW_PAGES = tuple(vocab.SITE + p for p, _ in vocab.VIEW_PAGES)

# Lookup tables: a column's code n means LOOKUPS[column][n]; code 0 is NULL.
LOOKUPS: dict[str, tuple[str | None, ...]] = {
    "touch_type": (None, *_TYPES),
    "channel": (None, *sorted({c for c, _, _ in _TOUCH.values()})),
    "source": (None, "website", "webinar-platform", "sendgrid", *IMPORT_SOURCES, *AD_SOURCES),
    "campaign": (None, *vocab.UTM_CAMPAIGNS, *WEBINARS, *EMAIL_CAMPAIGNS, *IMPORT_SOURCES),
    "utm_source": (None, *_UTM_SOURCES),
    "utm_medium": (None, *_MEDIUMS),
    "utm_campaign": (None, *vocab.UTM_CAMPAIGNS, *EMAIL_CAMPAIGNS),
    "utm_term": (None, *[t for t in vocab.UTM_TERMS if t]),
    "utm_content": (None, *[c for c in vocab.UTM_CONTENTS if c]),
    "page_url": (None, *_FORM_PAGES, *_VIEW_PAGES),
    "detail": (None, *[json.dumps({"url": u}) for u in _VIEW_PAGES]),
}
CODED_COLUMNS = tuple(LOOKUPS)


def _code(column: str, value: str) -> int:
    return LOOKUPS[column].index(value)


@dataclass
class TouchCodes:
    """Touches as numbers: lead, position in the lead's history, time, and lookup codes."""

    lead_id: np.ndarray  # int64
    nth: np.ndarray  # int32, 0 = the arrival
    occurred_at: np.ndarray  # datetime64[s], UTC
    codes: dict[str, np.ndarray]  # column -> int16 codes into LOOKUPS[column]
    scored: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.lead_id)


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


def _pick(rng: np.random.Generator, table_offset: int, count: int, size: int) -> np.ndarray:
    return (table_offset + rng.integers(0, count, size=size)).astype(np.int16)


def touch_codes(
    lead_ids: np.ndarray,
    first_seen: np.ndarray,
    *,
    until: datetime,
    seed: int = 0,
    per_lead: float = 10,
    block: int = 0,
) -> TouchCodes:
    """The touches of these leads as codes; deterministic for (seed, block, leads, until)."""
    lead_ids = np.asarray(lead_ids, dtype=np.int64)
    first_seen = np.asarray(first_seen, dtype="datetime64[s]")
    rng = rng_for(seed, STREAM_TOUCHES, block)
    counts = touch_counts(rng, len(lead_ids), per_lead)
    total = int(counts.sum())
    lead = np.repeat(lead_ids, counts)
    seen = np.repeat(first_seen, counts)
    nth = (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)).astype(np.int32)
    span = np.maximum((_as_s(until) - seen).astype(np.int64), 1)
    occurred = seen + (rng.random(total) * span).astype("timedelta64[s]")
    first = nth == 0
    occurred[first] = seen[first]

    type_of = {t: _code("touch_type", t) for t in _TYPES}
    later = rng.choice(len(_TYPES), size=total, p=_p([_TOUCH[t][2] for t in _TYPES])) + 1
    arrival = np.array([type_of[t] for t in FIRST_TOUCH_P])[
        rng.choice(len(FIRST_TOUCH_P), size=total, p=_p(list(FIRST_TOUCH_P.values())))
    ]
    ttype = np.where(first, arrival, later).astype(np.int16)
    by_type = np.zeros(len(LOOKUPS["touch_type"]), dtype=np.int16)
    for t in _TYPES:
        by_type[type_of[t]] = _code("channel", _TOUCH[t][0])
    channel = by_type[ttype]
    src_by_type = np.zeros(len(LOOKUPS["touch_type"]), dtype=np.int16)
    for t in _TYPES:
        src_by_type[type_of[t]] = _code("source", _TOUCH[t][1]) if _TOUCH[t][1] else 0
    source = src_by_type[ttype]
    is_import = ttype == type_of["import"]
    is_ad = ttype == type_of["ad_lead"]
    source[is_import] = _pick(
        rng, _code("source", IMPORT_SOURCES[0]), len(IMPORT_SOURCES), int(is_import.sum())
    )
    source[is_ad] = _pick(rng, _code("source", AD_SOURCES[0]), len(AD_SOURCES), int(is_ad.sum()))
    is_email = (ttype == type_of["email_open"]) | (ttype == type_of["email_click"])
    is_webinar = (ttype == type_of["webinar_registered"]) | (ttype == type_of["webinar_attended"])

    # UTM fields: web touches carry the visit's UTMs; email touches their campaign; ad leads the ad;
    # imports none.
    us = rng.choice(len(_UTM_SOURCES), size=total, p=_p([vocab.UTM_SOURCES[s][1] for s in _UTM_SOURCES]))
    utm_source = (us + 1).astype(np.int16)
    med_first = np.array(
        [_code("utm_medium", vocab.UTM_SOURCES[s][0][0]) for s in _UTM_SOURCES], dtype=np.int16
    )
    med_last = np.array(
        [_code("utm_medium", vocab.UTM_SOURCES[s][0][-1]) for s in _UTM_SOURCES], dtype=np.int16
    )
    utm_medium = np.where(rng.random(total) < 0.7, med_first[us], med_last[us]).astype(np.int16)
    utm_campaign = _pick(rng, 1, len(vocab.UTM_CAMPAIGNS), total)
    n_terms, n_contents = len(LOOKUPS["utm_term"]), len(LOOKUPS["utm_content"])
    # About a third of visits have no term / content.
    utm_term = np.where(rng.random(total) < 0.35, 0, rng.integers(1, n_terms, size=total)).astype(np.int16)
    utm_content = np.where(rng.random(total) < 0.35, 0, rng.integers(1, n_contents, size=total)).astype(
        np.int16
    )
    email_campaign = _pick(rng, _code("utm_campaign", EMAIL_CAMPAIGNS[0]), len(EMAIL_CAMPAIGNS), total)
    utm_source[is_email] = _code("utm_source", "newsletter")
    utm_medium[is_email] = _code("utm_medium", "email")
    utm_campaign[is_email] = email_campaign[is_email]
    utm_term[is_email] = 0
    linkedin = source == _code("source", "linkedin-lead-gen")
    utm_source[is_ad] = np.where(
        linkedin[is_ad], _code("utm_source", "linkedin"), _code("utm_source", "facebook")
    )
    utm_medium[is_ad] = _code("utm_medium", "cpc")
    no_utm = is_import | (~is_email & ~is_ad & (rng.random(total) < 0.3))
    for arr in (utm_source, utm_medium, utm_campaign, utm_term, utm_content):
        arr[no_utm] = 0
    # campaign: the UTM campaign (same names in both tables), the webinar, or the import's list.
    campaign = np.zeros(total, dtype=np.int16)
    named = utm_campaign > 0
    campaign[named] = np.array([_code("campaign", c) for c in LOOKUPS["utm_campaign"][1:]], dtype=np.int16)[
        utm_campaign[named] - 1
    ]
    campaign[is_webinar] = _pick(rng, _code("campaign", WEBINARS[0]), len(WEBINARS), int(is_webinar.sum()))
    src_to_campaign = np.array(
        [_code("campaign", s) if s in IMPORT_SOURCES else 0 for s in LOOKUPS["source"]], dtype=np.int16
    )
    campaign[is_import] = src_to_campaign[source[is_import]]

    page_url = np.zeros(total, dtype=np.int16)
    detail = np.zeros(total, dtype=np.int16)
    is_form = ttype == type_of["form_fill"]
    page_url[is_form] = 1 + rng.choice(
        len(_FORM_PAGES), size=int(is_form.sum()), p=_p([w for _, w in vocab.FORM_PAGES])
    )
    is_view = ttype == type_of["page_view"]
    view = rng.choice(len(_VIEW_PAGES), size=int(is_view.sum()), p=_p([w for _, w in vocab.VIEW_PAGES]))
    page_url[is_view] = 1 + len(_FORM_PAGES) + view
    detail[is_view] = 1 + view
    is_click = ttype == type_of["email_click"]
    detail[is_click] = 1 + rng.integers(0, len(_VIEW_PAGES), size=int(is_click.sum()))
    # Apple Mail privacy opens: kept, not scored.
    scored = ~((ttype == type_of["email_open"]) & (rng.random(total) < 0.15))
    codes = {
        "touch_type": ttype,
        "channel": channel,
        "source": source,
        "campaign": campaign,
        "utm_source": utm_source,
        "utm_medium": utm_medium,
        "utm_campaign": utm_campaign,
        "utm_term": utm_term,
        "utm_content": utm_content,
        "page_url": page_url,
        "detail": detail,
    }
    return TouchCodes(lead, nth, occurred, codes, scored)


def source_refs(prefix: str, lead_id: np.ndarray, nth: np.ndarray) -> np.ndarray:
    """The idempotency key of each touch: ``<prefix>:<lead id>:<n>``, unique per lead and position."""
    lead_str = pd.Series(lead_id).astype(str).to_numpy(dtype=object)
    nth_str = pd.Series(nth).astype(str).to_numpy(dtype=object)
    return prefix + ":" + lead_str + ":" + nth_str


def decode(touches: TouchCodes, ref_prefix: str = "synth") -> pd.DataFrame:
    """Touches as text columns (``TOUCH_COLUMNS``; ``occurred_at`` datetime64[s] UTC, ``detail`` JSON)."""
    frame = {"lead_id": touches.lead_id, "occurred_at": touches.occurred_at}
    for column in CODED_COLUMNS:
        frame[column] = np.array(LOOKUPS[column], dtype=object)[touches.codes[column]]
    frame["source_ref"] = source_refs(ref_prefix, touches.lead_id, touches.nth)
    frame["scored"] = touches.scored
    return object_frame({c: frame[c] for c in TOUCH_COLUMNS})


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
    return decode(
        touch_codes(lead_ids, first_seen, until=until, seed=seed, per_lead=per_lead, block=block), ref_prefix
    )
