"""File drops: claim by content hash, read in chunks, write, archive with a receipt (or fail with a reason).

Layout inside the inbox (any fsspec filesystem; the DAG passes an Airflow
ObjectStoragePath's): files dropped at the top level; ``archive/<hash12>-<name>``
plus ``<that>.receipt.json`` once processed (also for a re-dropped copy, which
adds nothing); ``failed/<hash12>-<name>`` plus ``<that>.receipt.json`` with the
reason when the structure cannot be read. A file is claimed in ``ingest_files``
before it is read, and written in one transaction, so a crash leaves nothing
half-done and two workers never take the same file.
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from funnelflow import settings
from funnelflow.db import schema
from funnelflow.db.schema import utcnow
from funnelflow.ingest.config import HeaderMappingConfig, SourcesConfig
from funnelflow.ingest.mapping import HeaderMap, map_headers
from funnelflow.ingest.normalize import REASON_NO_CONTACT, normalize_frame
from funnelflow.ingest.readers import FileFacts, FileUnreadable, RawChunk, inspect_file, read_records
from funnelflow.ingest.store import Arrival, Counts, write_arrivals, write_rejects
from funnelflow.ingest.timing import timed, timed_iter
from funnelflow.privacy import redact_addresses

log = logging.getLogger(__name__)


class InboxError(RuntimeError):
    """Some files could not be ingested this run; they stay in the inbox (message carries no addresses)."""

ARCHIVE_DIR = "archive"
FAILED_DIR = "failed"
RECEIPT_SUFFIX = ".receipt.json"
STALE_CLAIM = timedelta(hours=1)  # a claim this old belongs to a worker that died
REASON_UNRESOLVED = "matches no single lead (its external id belongs to another lead)"


@dataclass
class FileReport:
    name: str
    status: str  # ingested, duplicate_content, failed, skipped, busy
    source: str | None = None
    counts: Counts = field(default_factory=Counts)
    unknown_columns: tuple[str, ...] = ()
    reason: str | None = None
    stored_as: str | None = None

    def log_line(self) -> str:
        c = self.counts
        text = (f"file {self.name!r} source={self.source} status={self.status} rows_in={c.rows_in} "
                f"inserted={c.inserted} updated={c.updated} rejected={c.rejected} duplicates={c.duplicates}")
        return text + (f" reason={self.reason}" if self.reason else "")


class Inbox:
    """The drop folder on an fsspec filesystem, with its archive/ and failed/ subfolders."""

    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")

    def exists(self) -> bool:
        return bool(self.fs.exists(self.root))

    def drops(self) -> list[str]:
        """Files at the top level, oldest name first; hidden and partial uploads are left alone."""
        names = []
        for entry in self.fs.ls(self.root, detail=True):
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if entry.get("type") != "file" or name.startswith((".", "~$")) or name.endswith((".part", ".tmp", ".crdownload")):
                continue
            names.append(name)
        return sorted(names)

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def open(self, name: str):
        return self.fs.open(self.path(name), "rb")

    def store(self, name: str, folder: str, stored_name: str, receipt: dict[str, Any]) -> str:
        """Move a drop into archive/ or failed/ and write its receipt beside it; returns the relative path."""
        self.fs.makedirs(self.path(folder), exist_ok=True)
        self.fs.pipe_file(self.path(folder, stored_name + RECEIPT_SUFFIX),
                          json.dumps(receipt, indent=2, sort_keys=True, default=str).encode("utf-8"))
        self.fs.mv(self.path(name), self.path(folder, stored_name))
        return f"{folder}/{stored_name}"


def _insert_ignore(conn, table, values: dict[str, Any]) -> int:
    """1 when the row was inserted, 0 when a unique key already held it."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(table.c.id)
    return int(conn.execute(stmt).first() is not None)


def claim(engine: Engine, content_hash: str, name: str, source: str | None, now: datetime) -> tuple[str | None, dict | None]:
    """Take the file for this worker: returns (claim token, None) or (None, the existing registry row)."""
    token = secrets.token_hex(16)
    t = schema.ingest_files
    with engine.begin() as conn:
        row = {"content_hash": content_hash, "file_name": name[:500], "source": source, "status": "claimed",
               "claim_token": token, "claimed_at": now}
        if _insert_ignore(conn, t, row) == 1:
            return token, None
        existing = conn.execute(select(t).where(t.c.content_hash == content_hash)).mappings().one()
        retake = existing["status"] == "failed" or (
            existing["status"] == "claimed" and existing["claimed_at"] < now - STALE_CLAIM)
        if retake:
            taken = conn.execute(
                update(t).where(t.c.id == existing["id"], t.c.claim_token == existing["claim_token"])
                .values(status="claimed", claim_token=token, claimed_at=now, file_name=name[:500], source=source,
                        reason=None, finished_at=None)
            ).rowcount
            if taken == 1:
                return token, None
        return None, dict(existing)


def release(engine: Engine, content_hash: str, token: str) -> None:
    t = schema.ingest_files
    with engine.begin() as conn:
        conn.execute(t.delete().where(t.c.content_hash == content_hash, t.c.claim_token == token))


def _prefetch(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run a generator one step ahead in a thread, so reading/validating overlaps database writes."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(("item", item), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(("done", done))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(("error", exc))

    thread = threading.Thread(target=work, name="ingest-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "done":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join(timeout=5)


@dataclass
class PreparedChunk:
    rows_in: int
    duplicates: int
    rejects: list[tuple[int | None, str, dict]]
    good: pd.DataFrame
    headers: list[str]
    kept_rows: list[list[str]]  # raw cells of the rows ``good`` was made from (same positions as its index)


def prepare_chunk(chunk: RawChunk, headers: list[str], hmap: HeaderMap, seen: set[int], as_of: datetime,
                  ref_prefix: str, file_label: str, source: str, campaign: str | None) -> PreparedChunk:
    """Map, de-duplicate and validate one chunk (pure Python/pandas: runs in the prefetch thread)."""
    rejects: list[tuple[int | None, str, dict]] = []
    for line, problem, cells in chunk.malformed:
        names = headers + [f"extra {i + 1}" for i in range(len(cells) - len(headers))]
        rejects.append((line, problem, dict(zip(names, cells, strict=False))))
    keep, lines, dups = [], [], 0
    for row, line in zip(chunk.rows, chunk.lines, strict=True):
        fingerprint = hash(tuple(row))
        if fingerprint in seen:
            dups += 1
            continue
        seen.add(fingerprint)
        keep.append(row)
        lines.append(line)
    raw = pd.DataFrame(keep, columns=headers, dtype=object)
    mapped = raw[list(hmap.columns)].rename(columns=hmap.columns)
    norm, reason = normalize_frame(mapped, as_of)
    if not hmap.has_identity:
        reason = reason.where(reason != REASON_NO_CONTACT,
                              REASON_NO_CONTACT + ": no column maps to email or phone; add the header as an alias "
                              "in config/header_mapping.yaml, then run `python -m funnelflow rejects replay`")
    bad = reason != ""
    for idx in norm.index[bad]:
        rejects.append((lines[idx], reason[idx], dict(zip(headers, keep[idx], strict=True))))
    good = norm[~bad].copy()
    line_col = pd.Series(lines, index=norm.index)[~bad]
    good["line"] = line_col
    good["source_ref"] = ref_prefix + line_col.astype(str)
    good["detail"] = ('{"file":' + json.dumps(file_label) + ',"line":' + line_col.astype(str) + "}")
    by_id = good["match_key"].str.startswith("x:")
    good["external_source"] = pd.Series(source, index=good.index).where(by_id, None)
    good["external_id"] = good["external_id"].where(by_id, None)
    good["original_source"] = good["original_source"].fillna(source).str.slice(0, 60)
    if campaign:
        good["campaign"] = good["campaign"].fillna(campaign)
    return PreparedChunk(len(chunk.rows) + len(chunk.malformed), dups, rejects, good, headers, keep)


def _timed_prepare(*args: Any) -> PreparedChunk:
    with timed("validate"):
        return prepare_chunk(*args)


def ingest_inbox(engine: Engine, fs: Any, root: str, sources: SourcesConfig, mapping: HeaderMappingConfig,
                 as_of: datetime, chunk_rows: int | None = None) -> list[FileReport]:
    """Ingest every drop in the inbox; one bad file never holds up the others.

    A database error on one file releases its claim and is raised after the
    other files are done, so the task fails (and retries) without losing them.
    """
    inbox = Inbox(fs, root)
    if not inbox.exists():
        log.info("inbox %s does not exist yet: no files to ingest", root)
        return []
    chunk_rows = chunk_rows or settings.env_int("FUNNELFLOW_INGEST_CHUNK_ROWS", 20_000)
    reports, errors = [], []
    for name in inbox.drops():
        try:
            report = ingest_file(engine, inbox, name, sources, mapping, as_of, chunk_rows)
        except Exception as exc:
            # A database error can quote the row it failed on (PostgreSQL's "Key (email_key)=(...)"):
            # addresses are masked before anything reaches the task log.
            reason = redact_addresses(f"{type(exc).__name__}: {exc}")
            log.error("file %r not ingested (%s); it stays in the inbox for the retry", name, reason)
            errors.append(reason)
            continue
        log.info(report.log_line())
        reports.append(report)
    if errors:
        raise InboxError(f"{len(errors)} file(s) not ingested, left in the inbox for the retry; first: {errors[0]}")
    return reports


def ingest_file(engine: Engine, inbox: Inbox, name: str, sources: SourcesConfig, mapping: HeaderMappingConfig,
                as_of: datetime, chunk_rows: int) -> FileReport:
    source = sources.file_source_for(name)
    if source is None:
        log.info("file %r matches no source in sources.yaml: skipped (add a `files:` entry to take it)", name)
        return FileReport(name, "skipped", reason="no source configured for this file name")
    now = utcnow()
    with inbox.open(name) as stream:
        try:
            facts = inspect_file(stream)
            problem = None
        except FileUnreadable as exc:
            facts, problem = None, str(exc)
    content_hash = facts.content_hash if facts else _hash_of(inbox, name)
    token, existing = claim(engine, content_hash, name, source.name, now)
    stored_name = f"{content_hash[:12]}-{name}"
    if token is None:
        if existing and existing["status"] == "ingested":
            receipt = {"file": name, "status": "duplicate_content", "content_hash": content_hash,
                       "same_as": existing["stored_as"], "counts": Counts().as_dict(), "processed_at": now}
            stored = inbox.store(name, ARCHIVE_DIR, f"{stored_name}.{now:%Y%m%dT%H%M%S}", receipt)
            return FileReport(name, "duplicate_content", source.name, stored_as=stored,
                              reason=f"same content as {existing['stored_as']}")
        return FileReport(name, "busy", source.name, reason="claimed by another worker")
    try:
        if problem is not None:
            raise FileUnreadable(problem)
        report = _ingest_claimed(engine, inbox, name, stored_name, facts, token, source, mapping, as_of, now, chunk_rows)
    except FileUnreadable as exc:
        return _fail(engine, inbox, name, stored_name, content_hash, token, source.name, str(exc), now)
    except BaseException:
        release(engine, content_hash, token)
        raise
    return report


def _hash_of(inbox: Inbox, name: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with inbox.open(name) as stream:
        while block := stream.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _fail(engine: Engine, inbox: Inbox, name: str, stored_name: str, content_hash: str, token: str, source: str,
          reason: str, now: datetime) -> FileReport:
    t = schema.ingest_files
    stored = f"{FAILED_DIR}/{stored_name}"
    with engine.begin() as conn:
        conn.execute(update(t).where(t.c.content_hash == content_hash, t.c.claim_token == token)
                     .values(status="failed", reason=reason[:500], finished_at=now, stored_as=stored))
    receipt = {"file": name, "status": "failed", "reason": reason, "content_hash": content_hash, "source": source,
               "processed_at": now, "fix": "export the list again as CSV (UTF-8) or XLSX and drop the new file"}
    inbox.store(name, FAILED_DIR, stored_name, receipt)
    log.warning("file %r failed: %s", name, reason)
    return FileReport(name, "failed", source, reason=reason, stored_as=stored)


def _ingest_claimed(engine: Engine, inbox: Inbox, name: str, stored_name: str, facts: FileFacts, token: str, source,
                    mapping: HeaderMappingConfig, as_of: datetime, now: datetime, chunk_rows: int) -> FileReport:
    arrival = Arrival(
        source=source.name, channel="file_import", touch_type="import", campaign=source.campaign,
        consent_status=source.consent.status if source.consent else None,
        legal_basis=source.consent.legal_basis if source.consent else None, source_file=stored_name,
    )
    counts = Counts()
    stored = f"{ARCHIVE_DIR}/{stored_name}"
    with inbox.open(name) as stream:
        headers, chunks = read_records(stream, facts, chunk_rows)
        hmap = map_headers(headers, mapping.extra_aliases, mapping.ignore)
        seen: set[int] = set()
        prepared = (
            _timed_prepare(chunk, headers, hmap, seen, as_of, f"file:{facts.content_hash[:16]}:", stored_name,
                           source.name, source.campaign)
            for chunk in timed_iter("read", chunks)
        )
        with engine.begin() as conn:
            for part in _prefetch(prepared):
                counts.rows_in += part.rows_in
                counts.duplicates += part.duplicates
                outcome = write_arrivals(conn, part.good, arrival, now)
                unresolved = outcome[outcome == "rejected"].index
                rejects = part.rejects + [
                    (int(part.good.at[i, "line"]), REASON_UNRESOLVED, dict(zip(part.headers, part.kept_rows[i], strict=True)))
                    for i in unresolved
                ]
                with timed("touchpoints"):
                    write_rejects(conn, source.name, stored_name, rejects, now)
                counts.rejected += len(rejects)
                counts.inserted += int((outcome == "inserted").sum())
                counts.updated += int((outcome == "updated").sum())
            counts.check(f"file {name!r}")
            t = schema.ingest_files
            conn.execute(update(t).where(t.c.content_hash == facts.content_hash, t.c.claim_token == token)
                         .values(status="ingested", counts=counts.as_dict(), finished_at=now, stored_as=stored))
    receipt = {
        "file": name, "status": "ingested", "source": source.name, "content_hash": facts.content_hash,
        "format": facts.kind, "encoding": facts.encoding, "delimiter": facts.delimiter, "counts": counts.as_dict(),
        "columns": hmap.columns, "unknown_columns": list(hmap.unknown), "processed_at": now,
        "rejects": f"ingest_rejects where source_file = '{stored_name}'",
    }
    inbox.store(name, ARCHIVE_DIR, stored_name, receipt)
    return FileReport(name, "ingested", source.name, counts, hmap.unknown, stored_as=stored)
