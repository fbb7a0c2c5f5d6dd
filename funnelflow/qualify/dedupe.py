"""Dedupe and merge: likely duplicates across different email keys, merged above a high bar,
reviewed between the bars.

Ingestion already keeps one row per ``email_key``. Here, a changed lead is
compared with leads sharing its last name and first initial (the blocking key) on name, company
and phone with ``rapidfuzz``. At or above FUNNELFLOW_MERGE_AUTO_SIMILARITY the
pair is merged at once, unless both have distinct business emails (two people
at one company can share a name: a person decides); from
FUNNELFLOW_MERGE_REVIEW_SIMILARITY it goes on the review list for
``python -m funnelflow merges accept|reject``.

A merge keeps every row of both leads: touchpoints, consents, lifecycle history
and every other table with a ``lead_id`` are re-pointed to the surviving lead
(the older one), blanks of the survivor are filled from the other, and the other
is kept with ``merged_into_id`` set. ``lead_merges.undo`` records exactly what
moved and what was filled, so ``merges undo`` puts everything back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from rapidfuzz import fuzz

from funnelflow import settings
from funnelflow.db.schema import lead_merges, leads, merge_candidates, metadata, utcnow
from funnelflow.qualify.state import live_leads, needs_qualifying

log = logging.getLogger(__name__)
FILLED_FIELDS = (
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "phone_e164",
    "country",
    "account_id",
    "seniority",
    "department",
)
_OWN_TABLES = {"merge_candidates", "lead_merges"}


class MergeError(ValueError):
    """A merge command that cannot be done as asked; the message says why."""


def lead_tables() -> list[sa.Table]:
    """Every table whose ``lead_id`` points at leads (other areas' tables included),
    so a merge misses none."""
    found = []
    for table in metadata.sorted_tables:
        if table.name in _OWN_TABLES or "lead_id" not in table.c:
            continue
        if any(fk.column.table is leads for fk in table.c.lead_id.foreign_keys):
            found.append(table)
    return found


@dataclass(frozen=True)
class Similarity:
    score: float
    evidence: dict[str, float | None]


def _full_name(row) -> str:
    return " ".join(p for p in (row.first_name, row.last_name) if p).lower()


def similarity(a, b) -> Similarity | None:
    """Weighted name/company/phone similarity (0-100);
    None unless the name and one more thing can be compared."""
    name_a, name_b = _full_name(a), _full_name(b)
    if not name_a or not name_b:
        return None
    parts: dict[str, tuple[float, float]] = {"name": (fuzz.token_sort_ratio(name_a, name_b), 0.4)}
    if a.company and b.company:
        parts["company"] = (fuzz.token_set_ratio(a.company.lower(), b.company.lower()), 0.3)
    if a.phone_e164 and b.phone_e164:
        parts["phone"] = (100.0 if a.phone_e164 == b.phone_e164 else 0.0, 0.3)
    if len(parts) < 2:
        return None
    total_weight = sum(w for _, w in parts.values())
    score = sum(s * w for s, w in parts.values()) / total_weight
    return Similarity(round(score, 1), {k: round(s, 1) for k, (s, _) in parts.items()})


def _distinct_business_emails(a, b) -> bool:
    def business(row) -> bool:
        return bool(row.email_key) and not row.email_free and not row.email_disposable

    return business(a) and business(b) and a.email_key != b.email_key


@dataclass
class DedupeResult:
    compared: int = 0
    merged: int = 0
    for_review: int = 0


_COLS = [
    leads.c.id,
    leads.c.email_key,
    leads.c.first_name,
    leads.c.last_name,
    leads.c.company,
    leads.c.phone_e164,
    leads.c.email_free,
    leads.c.email_disposable,
]


def find_and_merge(
    engine: sa.Engine, *, lead_ids: list[int] | None = None, actor: str = "lead_qualification"
) -> DedupeResult:
    """Compare the changed leads with their look-alikes; merge the sure pairs, list the likely ones."""
    auto_bar = settings.env_float("FUNNELFLOW_MERGE_AUTO_SIMILARITY", 95.0)
    review_bar = settings.env_float("FUNNELFLOW_MERGE_REVIEW_SIMILARITY", 85.0)
    result = DedupeResult()
    changed = leads.alias("changed")
    other = leads.alias("other")
    changed_where = needs_qualifying() if lead_ids is None else leads.c.id.in_(lead_ids)
    changed_ids = sa.select(leads.c.id).where(changed_where, leads.c.last_name.is_not(None))
    # Blocking key: same last name and first initial; only those pairs are compared.
    pairs_stmt = (
        sa.select(changed.c.id.label("a"), other.c.id.label("b"))
        .join(
            other,
            sa.and_(
                sa.func.lower(other.c.last_name) == sa.func.lower(changed.c.last_name),
                sa.func.lower(sa.func.substr(other.c.first_name, 1, 1))
                == sa.func.lower(sa.func.substr(changed.c.first_name, 1, 1)),
                other.c.id != changed.c.id,
            ),
        )
        .where(changed.c.id.in_(changed_ids), other.c.merged_into_id.is_(None), other.c.erased_at.is_(None))
    )
    with engine.connect() as conn:
        pairs = sorted({tuple(sorted(p)) for p in conn.execute(pairs_stmt).all()})
        ids = sorted({i for p in pairs for i in p})
        people = {}
        for i in range(0, len(ids), 1000):
            people.update(
                {
                    r.id: r
                    for r in conn.execute(sa.select(*_COLS).where(leads.c.id.in_(ids[i : i + 1000]))).all()
                }
            )
    likely = []
    for a_id, b_id in pairs:
        sim = similarity(people[a_id], people[b_id])
        result.compared += 1
        if sim is not None and sim.score >= review_bar:
            likely.append((a_id, b_id, sim))
    for a_id, b_id, sim in likely:
        with engine.begin() as conn:
            rows = {
                r.id: r
                for r in conn.execute(
                    sa.select(*_COLS).where(leads.c.id.in_([a_id, b_id]), live_leads())
                ).all()
            }
            if len(rows) < 2:
                continue  # one of them was merged earlier in this pass
            a, b = rows[a_id], rows[b_id]
            known = conn.execute(
                sa.select(merge_candidates.c.status).where(
                    merge_candidates.c.lead_id == a_id, merge_candidates.c.other_lead_id == b_id
                )
            ).scalar_one_or_none()
            if known in ("rejected", "merged"):
                continue  # a person said no (or undid it): never again automatically
            if sim.score >= auto_bar and not _distinct_business_emails(a, b):
                merge(conn, a_id, b_id, method="auto", similarity=sim.score, actor=actor)
                result.merged += 1
            elif known is None:
                conn.execute(
                    merge_candidates.insert().values(
                        lead_id=a_id,
                        other_lead_id=b_id,
                        similarity=sim.score,
                        evidence=sim.evidence,
                        status="pending",
                        found_at=utcnow(),
                    )
                )
                result.for_review += 1
    log.info(
        "dedupe: %d pair(s) compared, %d merged, %d for review",
        result.compared,
        result.merged,
        result.for_review,
    )
    return result


def merge(
    conn: sa.Connection, winner_id: int, loser_id: int, *, method: str, similarity: float | None, actor: str
) -> int:
    """Merge ``loser_id`` into ``winner_id`` (both kept); returns the ``lead_merges`` id for undo."""
    if winner_id == loser_id:
        raise MergeError("a lead cannot be merged into itself")
    rows = {
        r.id: r for r in conn.execute(sa.select(leads).where(leads.c.id.in_([winner_id, loser_id]))).all()
    }
    if len(rows) < 2:
        raise MergeError(f"lead {winner_id if winner_id not in rows else loser_id} does not exist")
    winner, loser = rows[winner_id], rows[loser_id]
    if winner.merged_into_id or loser.merged_into_id:
        raise MergeError("one of the two leads is already merged into another; undo that merge first")
    moved: dict[str, list[int]] = {}
    for table in lead_tables():
        ids = list(
            conn.execute(
                sa.select(table.c.id).where(table.c.lead_id == loser_id).order_by(table.c.id)
            ).scalars()
        )
        if ids:
            conn.execute(table.update().where(table.c.lead_id == loser_id).values(lead_id=winner_id))
            moved[table.name] = ids
    filled = {
        f: getattr(loser, f)
        for f in FILLED_FIELDS
        if getattr(winner, f) is None and getattr(loser, f) is not None
    }
    if filled:
        conn.execute(leads.update().where(leads.c.id == winner_id).values(**filled))
    else:
        conn.execute(
            leads.update().where(leads.c.id == winner_id).values(updated_at=utcnow())
        )  # re-score the survivor
    conn.execute(leads.update().where(leads.c.id == loser_id).values(merged_into_id=winner_id))
    pair = (min(winner_id, loser_id), max(winner_id, loser_id))
    conn.execute(
        merge_candidates.update()
        .where(merge_candidates.c.lead_id == pair[0], merge_candidates.c.other_lead_id == pair[1])
        .values(status="merged", decided_at=utcnow(), decided_by=actor)
    )
    undo = {"moved": moved, "filled": sorted(filled)}
    return conn.execute(
        lead_merges.insert()
        .values(
            winner_id=winner_id,
            loser_id=loser_id,
            method=method,
            similarity=similarity,
            undo=undo,
            merged_at=utcnow(),
            merged_by=actor,
        )
        .returning(lead_merges.c.id)
    ).scalar_one()


def undo_merge(conn: sa.Connection, merge_id: int, *, actor: str) -> None:
    """Put both leads back as they were before the merge;
    the pair is then never merged automatically again."""
    row = conn.execute(sa.select(lead_merges).where(lead_merges.c.id == merge_id)).first()
    if row is None:
        raise MergeError(f"no merge {merge_id}; see `python -m funnelflow merges list --merged`")
    if row.undone_at is not None:
        raise MergeError(f"merge {merge_id} was already undone at {row.undone_at.isoformat()}")
    tables = {t.name: t for t in lead_tables()}
    for name, ids in row.undo.get("moved", {}).items():
        table = tables[name]
        for i in range(0, len(ids), 1000):
            conn.execute(
                table.update()
                .where(table.c.id.in_(ids[i : i + 1000]), table.c.lead_id == row.winner_id)
                .values(lead_id=row.loser_id)
            )
    blanks = {f: None for f in row.undo.get("filled", [])}
    conn.execute(leads.update().where(leads.c.id == row.winner_id).values(**blanks, updated_at=utcnow()))
    conn.execute(
        leads.update().where(leads.c.id == row.loser_id).values(merged_into_id=None, updated_at=utcnow())
    )
    conn.execute(
        lead_merges.update().where(lead_merges.c.id == merge_id).values(undone_at=utcnow(), undone_by=actor)
    )
    pair = (min(row.winner_id, row.loser_id), max(row.winner_id, row.loser_id))
    updated = conn.execute(
        merge_candidates.update()
        .where(merge_candidates.c.lead_id == pair[0], merge_candidates.c.other_lead_id == pair[1])
        .values(status="rejected", decided_at=utcnow(), decided_by=actor)
    ).rowcount
    if not updated:
        conn.execute(
            merge_candidates.insert().values(
                lead_id=pair[0],
                other_lead_id=pair[1],
                similarity=row.similarity or 0.0,
                evidence={"undone_merge": merge_id},
                status="rejected",
                found_at=utcnow(),
                decided_at=utcnow(),
                decided_by=actor,
            )
        )


def accept(conn: sa.Connection, candidate_id: int, *, actor: str) -> int:
    cand = _pending(conn, candidate_id)
    return merge(
        conn, cand.lead_id, cand.other_lead_id, method="review", similarity=cand.similarity, actor=actor
    )


def reject(conn: sa.Connection, candidate_id: int, *, actor: str) -> None:
    _pending(conn, candidate_id)
    conn.execute(
        merge_candidates.update()
        .where(merge_candidates.c.id == candidate_id)
        .values(status="rejected", decided_at=utcnow(), decided_by=actor)
    )


def _pending(conn: sa.Connection, candidate_id: int):
    cand = conn.execute(sa.select(merge_candidates).where(merge_candidates.c.id == candidate_id)).first()
    if cand is None:
        raise MergeError(f"no review pair {candidate_id}; see `python -m funnelflow merges list`")
    if cand.status != "pending":
        raise MergeError(f"pair {candidate_id} is already {cand.status}")
    return cand
