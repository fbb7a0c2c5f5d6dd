"""Raw arrivals in ``lead_landing`` (web-form posts, ad-platform leads) into leads.

The public app and the ad-platform fetcher only land rows; this step maps,
validates and writes them, marking each landing row processed with its outcome
in the same transaction as the leads it produced, so a retry never doubles a
touchpoint. An identical post from the same source within the configured window
is a double click (duplicate); otherwise every post is a touchpoint.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select, update

from funnelflow.db import schema
from funnelflow.db.schema import utcnow
from funnelflow.ingest.config import FORM_SOURCES, WEB_FORM_SOURCE, HeaderMappingConfig, SourcesConfig
from funnelflow.ingest.mapping import map_headers
from funnelflow.ingest.normalize import normalize_frame
from funnelflow.ingest.stage import Arrival
from funnelflow.ingest.store import Counts, write_arrivals, write_rejects

log = logging.getLogger(__name__)

BATCH_ROWS = 5000
REASON_UNRESOLVED = "matches no single lead (its external id belongs to another lead)"


def flatten_ad_lead(payload: dict[str, Any]) -> dict[str, Any]:
    """An ad-platform lead as flat fields.

    The lead: ``{id, created_time, campaign_name, field_data: [{name, values}]}``.
    """
    flat: dict[str, Any] = {}
    for item in payload.get("field_data") or []:
        values = item.get("values") or [""]
        flat[str(item.get("name", ""))] = values[0] if values else ""
    flat.setdefault("external_id", payload.get("id", ""))
    flat.setdefault("occurred_at", payload.get("created_time", ""))
    if payload.get("campaign_name"):
        # The platform's own name for its ad campaign is a label, not our campaign slug: it is kept as the
        # UTM campaign; the touch's campaign is the source's slug from sources.yaml.
        flat.setdefault("utm_campaign", payload["campaign_name"])
    return flat


def arrival_for(source: str, sources: SourcesConfig) -> Arrival | None:
    if source == WEB_FORM_SOURCE:
        return Arrival(
            source=source,
            channel="web_form",
            touch_type="form_fill",
            wording_version=sources.web_form.consent_wording_version,
            consent_always=True,
        )
    ad = next((a for a in sources.ad_platforms if a.name == source), None)
    if ad is None:
        return None
    return Arrival(
        source=source,
        channel="ad_form",
        touch_type="ad_lead",
        campaign=ad.campaign,
        consent_status=ad.consent.status if ad.consent else None,
        legal_basis=ad.consent.legal_basis if ad.consent else None,
    )


def frame_from_payloads(
    source: str, payloads: list[dict[str, Any]], mapping: HeaderMappingConfig
) -> pd.DataFrame:
    """Payloads mapped to canonical columns through the same header mapping files use."""
    flat = [payload if source in FORM_SOURCES else flatten_ad_lead(payload) for payload in payloads]
    keys: list[str] = []
    for row in flat:
        keys.extend(k for k in row if k not in keys)
    hmap = map_headers(keys, mapping.extra_aliases, mapping.ignore)
    cells = [{hmap.columns[k]: _text(v) for k, v in row.items() if k in hmap.columns} for row in flat]
    frame = pd.DataFrame(cells, columns=list(dict.fromkeys(hmap.columns.values())), dtype=object)
    return frame.fillna("")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def process_landing(
    engine: Engine, sources: SourcesConfig, mapping: HeaderMappingConfig, batch_rows: int = BATCH_ROWS
) -> dict[str, Counts]:
    """Process every unprocessed landing row of a configured source; returns counts per source."""
    t = schema.lead_landing
    totals: dict[str, Counts] = defaultdict(Counts)
    skipped_sources: set[str] = set()
    last_id = 0
    while True:
        with engine.begin() as conn:
            rows = (
                conn.execute(
                    select(t.c.id, t.c.source, t.c.received_at, t.c.payload, t.c.content_hash, t.c.client_ip)
                    .where(t.c.processed_at.is_(None), t.c.id > last_id)
                    .order_by(t.c.id)
                    .limit(batch_rows)
                )
                .mappings()
                .all()
            )
            if not rows:
                break
            last_id = rows[-1]["id"]
            by_source: dict[str, list] = defaultdict(list)
            for row in rows:
                by_source[row["source"]].append(row)
            for source, group in by_source.items():
                arrival = arrival_for(source, sources)
                if arrival is None:
                    if source not in skipped_sources:
                        log.info(
                            "landing rows from source %r skipped: not configured in sources.yaml", source
                        )
                        skipped_sources.add(source)
                    continue
                totals[source].add(_process_group(conn, source, group, arrival, sources, mapping))
    for source, counts in totals.items():
        counts.check(f"landing rows of {source!r}")
    return dict(totals)


def _process_group(
    conn, source: str, group: list, arrival: Arrival, sources: SourcesConfig, mapping: HeaderMappingConfig
) -> Counts:
    now = utcnow()
    counts = Counts(rows_in=len(group))
    outcome: dict[int, str] = {}
    dup_ids = _double_posts(conn, source, group, sources)
    fresh = [row for row in group if row["id"] not in dup_ids]
    for row in group:
        if row["id"] in dup_ids:
            outcome[row["id"]] = "duplicate"
    rejects: list[tuple[int | None, str, dict, int]] = []
    if fresh:
        frame = frame_from_payloads(source, [dict(r["payload"]) for r in fresh], mapping)
        received = pd.Series([r["received_at"] for r in fresh], index=frame.index)
        if "occurred_at" not in frame.columns or source in FORM_SOURCES:
            frame["occurred_at"] = ""
        norm, reason = normalize_frame(frame, as_of=now)
        if source in FORM_SOURCES:
            norm["occurred_at"] = pd.to_datetime(received, utc=True)
            # A ticked box is an opt-in awaiting confirmation (double opt-in);
            # an unticked one records nothing.
            norm["consent_status"] = norm["consent_status"].map({"granted": "pending"})
            norm["legal_basis"] = norm["legal_basis"].where(norm["consent_status"].isna(), "consent")
        else:
            norm["occurred_at"] = norm["occurred_at"].where(
                frame["occurred_at"] != "", pd.to_datetime(received, utc=True)
            )
        ids = pd.Series([r["id"] for r in fresh], index=frame.index)
        prefix = "ad:" + source + ":" if source not in FORM_SOURCES else "landing:"
        norm["source_ref"] = (prefix + norm["external_id"].fillna("")).where(
            (source not in FORM_SOURCES) & norm["external_id"].notna(), "landing:" + ids.astype(str)
        )
        # The form's optional message ("What would you like to solve?") travels with the touch, for the rep.
        messages = [(r["payload"] or {}).get("message") if source == WEB_FORM_SOURCE else None for r in fresh]
        norm["detail"] = pd.Series(
            [
                json.dumps({"landing_id": i, "message": str(m)[:2000]}) if m else f'{{"landing_id":{i}}}'
                for i, m in zip(ids, messages, strict=True)
            ],
            index=frame.index,
        )
        norm["client_ip"] = pd.Series([r["client_ip"] for r in fresh], index=frame.index)
        by_id = norm["match_key"].fillna("").str.startswith("x:")
        norm["external_source"] = pd.Series(source[:60], index=norm.index).where(by_id, None)
        norm["external_id"] = norm["external_id"].where(by_id, None)
        norm["original_source"] = norm["original_source"].fillna(source).str.slice(0, 60)
        bad = reason != ""
        for i in norm.index[bad]:
            rejects.append((None, reason[i], dict(fresh[i]["payload"]), fresh[i]["id"]))
            outcome[fresh[i]["id"]] = "rejected"
        good = norm[~bad]
        result = write_arrivals(conn, good, arrival, now)
        for i, value in result.items():
            landing_id = fresh[i]["id"]
            outcome[landing_id] = value
            if value == "rejected":
                rejects.append((None, REASON_UNRESOLVED, dict(fresh[i]["payload"]), landing_id))
    for line, reason_text, raw, landing_id in rejects:
        write_rejects(conn, source, f"lead_landing:{landing_id}", [(line, reason_text, raw)], now)
    t = schema.lead_landing
    params = [{"lid": lid, "outcome": value} for lid, value in outcome.items()]
    from sqlalchemy import bindparam

    conn.execute(
        update(t).where(t.c.id == bindparam("lid")).values(processed_at=now, outcome=bindparam("outcome")),
        params,
    )
    for value in outcome.values():
        counts.count(value)
    return counts


def _double_posts(conn, source: str, group: list, sources: SourcesConfig) -> set[int]:
    """Landing ids that repeat an earlier identical arrival: within the window
    (web form) or ever (ad leads)."""
    t = schema.lead_landing
    window = timedelta(minutes=sources.web_form.duplicate_window_minutes) if source in FORM_SOURCES else None
    hashes = sorted({r["content_hash"] for r in group})
    earlier: dict[str, list[tuple[int, datetime]]] = defaultdict(list)
    for i in range(0, len(hashes), 500):
        for h, lid, at in conn.execute(
            select(t.c.content_hash, t.c.id, t.c.received_at).where(
                t.c.source == source, t.c.content_hash.in_(hashes[i : i + 500])
            )
        ):
            earlier[h].append((lid, at))
    dups = set()
    for row in group:
        for lid, at in earlier[row["content_hash"]]:
            if lid < row["id"] and (window is None or at >= row["received_at"] - window):
                dups.add(row["id"])
                break
    return dups


def land_form_post(
    engine: Engine,
    arrival: Arrival,
    payload: dict[str, Any],
    content_hash: str,
    client_ip: str,
    sources: SourcesConfig,
    mapping: HeaderMappingConfig,
    received_at: datetime,
) -> str:
    """Land one form post and turn it into a lead at once (a page that must answer with the person's state).

    The same path as the lead form's posts, only now instead of on the next DAG run:
    the landing row is written and processed in one transaction. Returns its outcome:
    inserted, updated, duplicate or rejected (with the reason in ``ingest_rejects``).
    """
    t = schema.lead_landing
    with engine.begin() as conn:
        landing_id = conn.execute(
            t.insert()
            .values(
                source=arrival.source,
                received_at=received_at,
                payload=payload,
                content_hash=content_hash,
                client_ip=client_ip[:45],
            )
            .returning(t.c.id)
        ).scalar_one()
        row = (
            conn.execute(
                select(
                    t.c.id, t.c.source, t.c.received_at, t.c.payload, t.c.content_hash, t.c.client_ip
                ).where(t.c.id == landing_id)
            )
            .mappings()
            .one()
        )
        counts = _process_group(conn, arrival.source, [row], arrival, sources, mapping)
    for outcome in ("inserted", "updated", "duplicate", "rejected"):
        if getattr(counts, {"duplicate": "duplicates"}.get(outcome, outcome)):
            return outcome
    return "rejected"
