"""Replaying rejects after a fix (a new header alias, a corrected source entry) without re-dropping the file.

Each unreplayed reject is run again through today's mapping and validation.
Rows that pass become leads and touchpoints (``source_ref`` ``reject:<id>``, so
a second replay adds nothing); rows that fail again get a fresh reject row with
the current reason. The old row keeps its history: ``replayed_at`` and
``replay_outcome`` (inserted, updated, rejected).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

import pandas as pd
from sqlalchemy import Engine, bindparam, select, update

from funnelflow.db import schema
from funnelflow.db.schema import utcnow
from funnelflow.ingest.config import HeaderMappingConfig, SourcesConfig
from funnelflow.ingest.landing import arrival_for, frame_from_payloads
from funnelflow.ingest.mapping import map_headers
from funnelflow.ingest.normalize import normalize_frame
from funnelflow.ingest.readers import NOT_UTF8_REASON
from funnelflow.ingest.stage import Arrival
from funnelflow.ingest.store import Counts, write_arrivals, write_rejects

log = logging.getLogger(__name__)

LANDING_PREFIX = "lead_landing:"
NOT_UTF8_REPLAY = (
    "not UTF-8 like the rest of its file: replay cannot restore its bytes; "
    "export the list again as UTF-8 and drop the new file"
)


def _file_arrival(source: str, source_file: str | None, sources: SourcesConfig) -> Arrival:
    entry = next((f for f in sources.files if f.name == source), None)
    return Arrival(
        source=source,
        channel="file_import",
        touch_type="import",
        campaign=entry.campaign if entry else None,
        consent_status=entry.consent.status if entry and entry.consent else None,
        legal_basis=entry.consent.legal_basis if entry and entry.consent else None,
        source_file=source_file,
    )


def replay_rejects(
    engine: Engine,
    sources: SourcesConfig,
    mapping: HeaderMappingConfig,
    as_of: datetime,
    source: str | None = None,
    reject_ids: list[int] | None = None,
) -> Counts:
    """Replay unreplayed rejects (optionally of one source, or given ids); returns what became of them."""
    r = schema.ingest_rejects
    query = select(r).where(r.c.replayed_at.is_(None)).order_by(r.c.id)
    if source:
        query = query.where(r.c.source == source)
    if reject_ids:
        query = query.where(r.c.id.in_(reject_ids))
    total = Counts()
    with engine.begin() as conn:
        rows = conn.execute(query).mappings().all()
        groups: dict[tuple[str, str | None], list] = defaultdict(list)
        for row in rows:
            groups[(row["source"], row["source_file"])].append(row)
        now = utcnow()
        for (src, source_file), group in groups.items():
            counts = _replay_group(conn, src, source_file, group, sources, mapping, as_of, now)
            counts.check(f"replay of {src!r} {source_file or ''}")
            log.info(
                "replayed %s rejects of source %r (%s): inserted=%s updated=%s rejected=%s",
                counts.rows_in,
                src,
                source_file,
                counts.inserted,
                counts.updated,
                counts.rejected,
            )
            total.add(counts)
    return total


def _replay_group(
    conn,
    source: str,
    source_file: str | None,
    group: list,
    sources: SourcesConfig,
    mapping: HeaderMappingConfig,
    as_of: datetime,
    now: datetime,
) -> Counts:
    from_landing = bool(source_file and source_file.startswith(LANDING_PREFIX))
    raws = [dict(row["raw"]) for row in group]
    if from_landing:
        arrival = arrival_for(source, sources) or Arrival(
            source=source, channel="web_form", touch_type="form_fill"
        )
        frame = frame_from_payloads(source, raws, mapping)
    else:
        arrival = _file_arrival(source, source_file, sources)
        headers = list(dict.fromkeys(k for raw in raws for k in raw))
        hmap = map_headers(headers, mapping.extra_aliases, mapping.ignore)
        frame = pd.DataFrame(
            [{hmap.columns[k]: str(v) for k, v in raw.items() if k in hmap.columns} for raw in raws],
            columns=list(dict.fromkeys(hmap.columns.values())),
            dtype=object,
        ).fillna("")
    norm, reason = normalize_frame(frame, as_of)
    # A line that was not UTF-8 is kept with its stray bytes as \xNN text: replaying it would store that
    # text as a name. It stays set aside until the file is exported again.
    stray_bytes = pd.Series([NOT_UTF8_REASON in (row["reason"] or "") for row in group], index=norm.index)
    reason = reason.where(~stray_bytes, NOT_UTF8_REPLAY)
    if from_landing:
        norm["occurred_at"] = pd.to_datetime(
            pd.Series([row["received_at"] for row in group], index=norm.index), utc=True
        )
        if source == "web_form":
            norm["consent_status"] = norm["consent_status"].map({"granted": "pending"})
    ids = pd.Series([row["id"] for row in group], index=norm.index)
    norm["source_ref"] = "reject:" + ids.astype(str)
    norm["detail"] = '{"replayed_reject":' + ids.astype(str) + "}"
    by_id = norm["match_key"].fillna("").str.startswith("x:")
    norm["external_source"] = pd.Series(source[:60], index=norm.index).where(by_id, None)
    norm["external_id"] = norm["external_id"].where(by_id, None)
    norm["original_source"] = norm["original_source"].fillna(source).str.slice(0, 60)
    bad = reason != ""
    outcome = pd.Series("rejected", index=norm.index, dtype=object)
    written = write_arrivals(conn, norm[~bad], arrival, now)
    outcome.loc[written.index] = written
    again = [
        (group[i]["line_number"], reason[i] or "matches no single lead", raws[i])
        for i in norm.index
        if outcome[i] == "rejected"
    ]
    write_rejects(conn, source, source_file, again, now)
    r = schema.ingest_rejects
    conn.execute(
        update(r)
        .where(r.c.id == bindparam("rid"))
        .values(replayed_at=now, replay_outcome=bindparam("result")),
        [{"rid": int(ids[i]), "result": outcome[i]} for i in norm.index],
    )
    counts = Counts(rows_in=len(group))
    for value in outcome:
        counts.count(value)
    return counts
