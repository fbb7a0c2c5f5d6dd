"""Forget a person everywhere (right to erasure), keeping every aggregate count right.

Asked for by lead id or by the SHA-256 of the normalized email
(``funnelflow.identity.email_hash``), never by the address, which would stay in
Airflow's run records. The person is every lead with that id or hash, plus the
leads merged into or from them (the same person's duplicates).

Rows are anonymized, not deleted, so counts (leads per stage and source,
touches, sends, events, rejects, arrivals) stay what they were:

- ``suppressions``: a ``erased`` suppression per email hash, first and in its own
  transaction, so no email goes out from that moment on, and a later import of
  the same address never brings them back into email.
- ``leads``: address, name, title, phone, external id and field provenance
  cleared; ``erased_at`` set. Stage, scores, source, account, dates stay.
- ``touchpoints``: query strings cut from URLs, details reduced to ids, the
  arrival key cleared. ``consents``: client addresses cleared (the statuses and
  times stay). ``lead_merges`` / ``merge_candidates``: field snapshots dropped.
- ``email_sends``: the recipient hash replaced by a random one (per erasure);
  errors redacted. ``email_events``: hash, URL, reason and payload dropped.
- Sales (``funnelflow.sales.queue.forget_leads``): open items closed ``erased``;
  rejection notes and other free text in the queue history, CRM errors and
  CRM record ids on the items dropped; statuses and coded reasons stay.
- ``ingest_rejects`` / ``lead_landing``: rows that mention the address become
  ``{"erased": true}`` (client address and content hash cleared).
- Files: in the inbox's ``archive/`` and ``failed/`` folders, every line (CSV,
  text) or sheet row (xlsx) naming the address is blanked in place (line
  numbers stay valid) and receipts are redacted; outbox ``.eml`` files sent to
  the person, or to a rep about them, are deleted; their rows in CRM exports
  (``outbox/crm/*.csv``) are blanked.

Files are done before the leads are anonymized: if the run dies half-way, a
retry by lead id still finds the address. Everything is idempotent; one row in
``erasures`` records what was asked, when, and how many things changed.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from funnelflow import consent, suppressions
from funnelflow.db import schema
from funnelflow.identity import email_hash, hash_key
from funnelflow.privacy import ADDRESS_RE
from funnelflow.sales import crm
from funnelflow.sales import queue as sales_queue

log = logging.getLogger(__name__)

HASH_RE = re.compile(r"^[0-9a-f]{64}$")
ERASED = "[erased]"
SCAN_BATCH = 2000
ERASED_CONTENT_HASH = hashlib.sha256(b"erased").hexdigest()
SAFE_DETAIL_KEYS = frozenset({"send_id", "sg_event_id", "machine", "campaign_id", "asm_group_id"})


class NotAPersonReference(ValueError):
    """The request is neither a lead id nor an email hash (the message never repeats the value)."""


@dataclass(frozen=True)
class Subject:
    lead_id: int | None = None
    email_hash: str | None = None

    @property
    def requested(self) -> str:
        return f"lead:{self.lead_id}" if self.lead_id is not None else f"hash:{self.email_hash}"


def parse_subject(value: Any) -> Subject:
    """A lead id (digits, or ``lead:<id>``) or a 64-hex SHA-256;
    anything else is refused without echoing it."""
    text = str(value if value is not None else "").strip()
    if "@" in text:
        raise NotAPersonReference(
            "forget_person takes a lead id or the SHA-256 of the normalized email, never the address itself "
            "(it would stay in Airflow's run records): get the hash with `python -m funnelflow privacy hash`"
        )
    if text.lower().startswith("lead:"):
        text = text[5:]
    if text.isdigit():
        return Subject(lead_id=int(text))
    if HASH_RE.match(text.lower()):
        return Subject(email_hash=text.lower())
    raise NotAPersonReference(
        "forget_person takes a lead id (digits) or a 64-character hex SHA-256 of the normalized email"
    )


@dataclass
class Person:
    lead_ids: set[int] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)
    send_ids: set[int] = field(default_factory=set)
    # Sends to others about the person (a rep's alert names the lead): their outbox copies go too.
    about_send_ids: set[int] = field(default_factory=set)

    def names_address(self, text: str) -> bool:
        """Whether a text contains an address of this person (compared by hash, so variants match)."""
        if "@" not in text or not self.hashes:
            return False
        return any(email_hash(m.group(0)) in self.hashes for m in ADDRESS_RE.finditer(text))

    def mentioned_in(self, value: Any) -> bool:
        if isinstance(value, str):
            return self.names_address(value)
        if isinstance(value, dict):
            return any(self.mentioned_in(v) for v in value.values()) or any(
                self.mentioned_in(k) for k in value
            )
        if isinstance(value, list | tuple):
            return any(self.mentioned_in(v) for v in value)
        return False

    def redact(self, value: Any) -> Any:
        """``value`` with this person's addresses replaced by ``[erased]``."""
        if isinstance(value, str):
            if not self.names_address(value):
                return value
            return ADDRESS_RE.sub(
                lambda m: ERASED if email_hash(m.group(0)) in self.hashes else m.group(0), value
            )
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.redact(v) for v in value]
        return value


@dataclass
class ForgetResult:
    requested: str
    lead_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, n: int) -> None:
        self.counts[key] = self.counts.get(key, 0) + max(int(n), 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requested": self.requested,
            "lead_ids": self.lead_ids,
            "counts": dict(sorted(self.counts.items())),
        }


def _lead_hash(email_key: str | None, email: str | None) -> set[str]:
    out = set()
    if email_key:
        out.add(hash_key(email_key))
    h = email_hash(email)
    if h:
        out.add(h)
    return out


def resolve_person(conn: sa.Connection, subject: Subject) -> Person:
    """Every lead, email hash and send of the person (merged duplicates included)."""
    leads = schema.leads
    person = Person()
    if subject.email_hash:
        person.hashes.add(subject.email_hash)
        # Leads keep the address, not its hash: hash them as we read (streamed, not all in memory).
        rows = conn.execute(
            sa.select(leads.c.id, leads.c.email_key, leads.c.email)
            .where(sa.or_(leads.c.email_key.is_not(None), leads.c.email.is_not(None)))
            .execution_options(yield_per=SCAN_BATCH)
        )
        for lead_id, key, email in rows:
            if subject.email_hash in _lead_hash(key, email):
                person.lead_ids.add(lead_id)
    if subject.lead_id is not None:
        if conn.execute(sa.select(leads.c.id).where(leads.c.id == subject.lead_id)).first() is None:
            raise LookupError(f"no lead with id {subject.lead_id}")
        person.lead_ids.add(subject.lead_id)
    # Merged duplicates are the same person: follow merges both ways until nothing new turns up.
    frontier = set(person.lead_ids)
    while frontier:
        found = set(
            conn.execute(
                sa.select(leads.c.id).where(
                    sa.or_(
                        leads.c.merged_into_id.in_(frontier),
                        leads.c.id.in_(
                            sa.select(leads.c.merged_into_id).where(
                                leads.c.id.in_(frontier), leads.c.merged_into_id.is_not(None)
                            )
                        ),
                    )
                )
            ).scalars()
        )
        frontier = found - person.lead_ids
        person.lead_ids |= frontier
    if person.lead_ids:
        for key, email in conn.execute(
            sa.select(leads.c.email_key, leads.c.email).where(leads.c.id.in_(person.lead_ids))
        ):
            person.hashes |= _lead_hash(key, email)
    sends = schema.email_sends
    conds = []
    if person.lead_ids:
        conds.append(sends.c.lead_id.in_(person.lead_ids))
    if person.hashes:
        conds.append(sends.c.recipient_hash.in_(person.hashes))
    if conds:
        person.send_ids = set(conn.execute(sa.select(sends.c.id).where(sa.or_(*conds))).scalars())
    return person


def _strip_query(url: Any) -> Any:
    """A URL without its query string and fragment (where personal tokens and addresses travel)."""
    if not isinstance(url, str) or not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


# --------------------------------------------------------------------------- database


def suppress(conn: sa.Connection, person: Person, at: datetime) -> int:
    return suppressions.add(
        conn,
        [
            {
                "email_hash": h,
                "reason": "erased",
                "scope": "all",
                "source": "forget_person",
                "detail": None,
                "created_at": at,
            }
            for h in sorted(person.hashes)
        ],
    )


def _scrub_json_rows(
    conn: sa.Connection, table: sa.Table, column: str, person: Person, extra: dict[str, Any]
) -> int:
    """Rows of ``table`` whose JSON ``column`` mentions the person: replaced by ``{"erased": true}``."""
    if not person.hashes:
        return 0
    hits: list[int] = []
    rows = conn.execute(sa.select(table.c.id, table.c[column]).execution_options(yield_per=SCAN_BATCH))
    for row_id, value in rows:
        if value != {"erased": True} and person.mentioned_in(value):
            hits.append(row_id)
    for i in range(0, len(hits), 900):
        part = hits[i : i + 900]
        conn.execute(sa.update(table).where(table.c.id.in_(part)).values({column: {"erased": True}, **extra}))
    return len(hits)


def anonymize_rows(conn: sa.Connection, person: Person, at: datetime) -> dict[str, int]:
    """Every table but ``suppressions``; the leads last. One transaction (the caller's)."""
    counts: dict[str, int] = {}
    rejects, landing = schema.ingest_rejects, schema.lead_landing

    counts["ingest_rejects"] = _scrub_json_rows(conn, rejects, "raw", person, {})
    for row_id, reason in conn.execute(
        sa.select(rejects.c.id, rejects.c.reason).where(rejects.c.reason.contains("@"))
    ):
        if person.names_address(reason):
            conn.execute(
                sa.update(rejects).where(rejects.c.id == row_id).values(reason=person.redact(reason))
            )
    # The content hash goes too: it is a fingerprint of the erased payload.
    counts["lead_landing"] = _scrub_json_rows(
        conn, landing, "payload", person, {"client_ip": None, "content_hash": ERASED_CONTENT_HASH}
    )

    events, sends = schema.email_events, schema.email_sends
    conds = []
    if person.send_ids:
        conds.append(events.c.send_id.in_(person.send_ids))
    if person.hashes:
        conds.append(events.c.email_hash.in_(person.hashes))
    counts["email_events"] = 0
    if conds:
        ids = list(conn.execute(sa.select(events.c.id, events.c.event).where(sa.or_(*conds))))
        for row_id, event in ids:
            conn.execute(
                sa.update(events)
                .where(events.c.id == row_id)
                .values(email_hash=None, url=None, reason=None, payload={"erased": True, "event": event})
            )
        counts["email_events"] = len(ids)

    counts["email_sends"] = 0
    if person.send_ids:
        tombstone = hashlib.sha256(
            secrets.token_bytes(32)
        ).hexdigest()  # random: nothing leads back to the address
        for row_id, error in conn.execute(
            sa.select(sends.c.id, sends.c.error).where(sends.c.id.in_(person.send_ids))
        ).all():
            conn.execute(
                sa.update(sends)
                .where(sends.c.id == row_id)
                .values(recipient_hash=tombstone, error=person.redact(error) if error else error)
            )
            counts["email_sends"] += 1

    ids = sorted(person.lead_ids)
    tp = schema.touchpoints
    counts["touchpoints"] = counts["consents"] = counts["leads"] = counts["merges"] = 0
    if ids:
        for row in conn.execute(
            sa.select(tp.c.id, tp.c.page_url, tp.c.detail).where(tp.c.lead_id.in_(ids))
        ).all():
            detail = row.detail if isinstance(row.detail, dict) else {}
            kept = {k: v for k, v in detail.items() if k in SAFE_DETAIL_KEYS}
            if "url" in detail:
                kept["url"] = _strip_query(detail["url"])
            conn.execute(
                sa.update(tp)
                .where(tp.c.id == row.id)
                .values(page_url=_strip_query(row.page_url), detail=kept or sa.null(), source_ref=None)
            )
            counts["touchpoints"] += 1
        counts["consents"] = consent.forget_client_addresses(conn, ids)
        counts |= sales_queue.forget_leads(conn, ids, at)
        merges, candidates = schema.lead_merges, schema.merge_candidates
        counts["merges"] += conn.execute(
            sa.update(merges)
            .where(sa.or_(merges.c.winner_id.in_(ids), merges.c.loser_id.in_(ids)))
            .values(undo={"erased": True})
        ).rowcount
        counts["merges"] += conn.execute(
            sa.update(candidates)
            .where(sa.or_(candidates.c.lead_id.in_(ids), candidates.c.other_lead_id.in_(ids)))
            .values(evidence={"erased": True})
        ).rowcount
        leads = schema.leads
        personal = [
            leads.c[c]
            for c in (
                "email",
                "email_key",
                "email_domain",
                "first_name",
                "last_name",
                "job_title",
                "phone",
                "phone_e164",
                "external_id",
                "field_sources",
            )
        ]
        counts["leads"] = conn.execute(
            sa.update(leads)
            # Only rows with something left to erase: a rerun leaves updated_at alone.
            .where(
                leads.c.id.in_(ids), sa.or_(leads.c.erased_at.is_(None), *(c.is_not(None) for c in personal))
            )
            .values(
                email=None,
                email_key=None,
                email_domain=None,
                first_name=None,
                last_name=None,
                job_title=None,
                phone=None,
                phone_e164=None,
                external_id=None,
                field_sources=sa.null(),  # SQL NULL, not JSON null
                erased_at=sa.func.coalesce(leads.c.erased_at, at),
            )
        ).rowcount
    return counts


# --------------------------------------------------------------------------- files


def _blank_line(line: str) -> str:
    """A CSV/text line with every value emptied: separators and line ending kept, so line numbers stay."""
    body = line.rstrip("\r\n")
    ending = line[len(body) :]
    for sep in (",", ";", "\t", "|"):
        if sep in body:
            try:
                fields = next(csv.reader([body], delimiter=sep))
            except (csv.Error, StopIteration):
                fields = body.split(sep)
            return sep * max(len(fields) - 1, 0) + ending
    return ending


def _decode(data: bytes) -> tuple[str, str]:
    """Text and the encoding to write it back in (a BOM stays a BOM, Windows-1252 stays Windows-1252)."""
    encoding = "utf-8-sig" if data.startswith(codecs.BOM_UTF8) else "utf-8"
    try:
        return data.decode(encoding), encoding
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    encoding = best.encoding if best else "latin-1"
    return data.decode(encoding, errors="replace"), encoding


def scrub_text_file(data: bytes, person: Person) -> bytes | None:
    """The file with each line naming the person blanked, or None when it does not name them."""
    if b"@" not in data:
        return None
    text, encoding = _decode(data)
    lines = text.splitlines(keepends=True)
    changed = False
    for i, line in enumerate(lines):
        if person.names_address(line):
            lines[i] = _blank_line(line)
            changed = True
    if not changed:
        return None
    return "".join(lines).encode(encoding, errors="replace")


def scrub_receipt(data: bytes, person: Person) -> bytes | None:
    import json

    try:
        doc = json.loads(data)
    except ValueError:
        return scrub_text_file(data, person)
    if not person.mentioned_in(doc):
        return None
    return json.dumps(person.redact(doc), indent=2, sort_keys=True, default=str).encode("utf-8")


def scrub_xlsx(data: bytes, person: Person) -> bytes | None:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    changed = False
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            if any(isinstance(c.value, str) and person.names_address(c.value) for c in row):
                for c in row:
                    c.value = None
                changed = True
    if not changed:
        return None
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def scrub_inbox(fs: Any, root: str, person: Person, folders: Iterable[str] = ("archive", "failed")) -> int:
    """Blank the person's rows in archived and failed lead files (and redact the receipts); files changed."""
    if not person.hashes:
        return 0
    changed = 0
    for folder in folders:
        base = f"{root.rstrip('/')}/{folder}"
        if not fs.exists(base):
            continue
        for path in sorted(fs.find(base)):
            data = fs.cat_file(path)
            name = path.rsplit("/", 1)[-1].lower()
            if name.endswith(".receipt.json"):
                new = scrub_receipt(data, person)
            elif data[:2] == b"PK":  # xlsx is a zip
                try:
                    new = scrub_xlsx(data, person)
                except Exception as exc:  # not a workbook after all: treat as bytes we cannot read
                    log.warning(
                        "forget: %s could not be opened as a workbook (%s); left as is",
                        name,
                        type(exc).__name__,
                    )
                    new = None
            else:
                new = scrub_text_file(data, person)
            if new is not None:
                fs.pipe_file(path, new)
                changed += 1
    return changed


def scrub_outbox(folder: Path, person: Person) -> int:
    """Delete outbox messages to or about the person: ``<send id>.eml`` of their sends and of the
    rep emails about them, or any addressed to them; rows about them in CRM exports are blanked."""
    if not folder.exists():
        return 0
    deleted = 0
    parser = BytesHeaderParser()
    for path in sorted(folder.rglob("*.eml")):
        mine = path.stem.isdigit() and int(path.stem) in person.send_ids | person.about_send_ids
        if not mine and person.hashes:
            with path.open("rb") as fh:
                headers = parser.parse(fh)
            addresses = getaddresses(
                headers.get_all("To", []) + headers.get_all("Cc", []) + headers.get_all("Bcc", [])
            )
            mine = any(email_hash(addr) in person.hashes for _, addr in addresses if addr)
        if mine:
            path.unlink()
            deleted += 1
    return deleted + crm.scrub_exports(folder / "crm", person.lead_ids, person.names_address)


# --------------------------------------------------------------------------- the whole erasure


def forget_person(
    engine: sa.Engine,
    subject: Subject,
    at: datetime,
    inbox: tuple[Any, str] | None = None,
    outbox: Path | None = None,
    run_id: str | None = None,
) -> ForgetResult:
    """Erase or anonymize the person everywhere; see the module docstring for what happens where."""
    with engine.begin() as conn:
        person = resolve_person(conn, subject)
        person.about_send_ids = sales_queue.sends_about(conn, person.lead_ids)
        result = ForgetResult(subject.requested, sorted(person.lead_ids))
        result.add("suppressions", suppress(conn, person, at))  # committed first: mail stops now
    if inbox is not None:
        result.add("inbox_files", scrub_inbox(inbox[0], inbox[1], person))
    if outbox is not None:
        result.add("outbox_files", scrub_outbox(outbox, person))
    with engine.begin() as conn:
        for key, n in anonymize_rows(conn, person, at).items():
            result.add(key, n)
        erasures = schema.erasures
        seen = conn.execute(
            sa.select(erasures.c.id).where(
                erasures.c.requested == subject.requested, erasures.c.run_id == run_id
            )
        ).first()
        if seen is None:  # a retry of the same run keeps the first record
            conn.execute(
                sa.insert(erasures).values(
                    requested=subject.requested,
                    lead_ids=result.lead_ids,
                    run_id=run_id,
                    erased_at=at,
                    summary=result.counts,
                )
            )
    log.info(
        "forgot %s: %d leads, %s",
        subject.requested if subject.lead_id is not None else "a hashed address",
        len(person.lead_ids),
        result.counts,
    )
    return result
