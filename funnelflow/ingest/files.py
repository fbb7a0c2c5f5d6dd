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
import secrets
from contextlib import closing
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, text, update

from funnelflow import settings
from funnelflow.db import schema
from funnelflow.db.helpers import insert_ignore, is_postgres, read_ahead
from funnelflow.db.schema import utcnow
from funnelflow.ingest.company import write_company_facts
from funnelflow.ingest.config import HeaderMappingConfig, SourcesConfig
from funnelflow.ingest.readers import FileFacts, FileUnreadable, inspect_file, read_records
from funnelflow.ingest.stage import Arrival, apply_batch, load_people, load_stage, start_batch
from funnelflow.ingest.store import Counts, write_rejects
from funnelflow.ingest.timing import timed
from funnelflow.ingest.worker import FileJob
from funnelflow.privacy import redact_addresses

log = logging.getLogger(__name__)


class InboxError(RuntimeError):
    """Some files could not be ingested this run; they stay in the inbox (message carries no addresses)."""


ARCHIVE_DIR = "archive"
FAILED_DIR = "failed"
RECEIPT_SUFFIX = ".receipt.json"
STALE_CLAIM = timedelta(hours=1)  # a claim this old belongs to a worker that died
DEFAULT_MAX_ATTEMPTS = 3  # tries per file before it goes to failed/ (FUNNELFLOW_INGEST_MAX_ATTEMPTS)
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
    worker: dict[str, Any] = field(default_factory=dict)  # the file worker's CPU seconds and peak memory

    def log_line(self) -> str:
        c = self.counts
        text = (
            f"file {self.name!r} source={self.source} status={self.status} rows_in={c.rows_in} "
            f"inserted={c.inserted} updated={c.updated} rejected={c.rejected} duplicates={c.duplicates}"
        )
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
            if (
                entry.get("type") != "file"
                or name.startswith((".", "~$"))
                or name.endswith((".part", ".tmp", ".crdownload"))
            ):
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
        self.fs.pipe_file(
            self.path(folder, stored_name + RECEIPT_SUFFIX),
            json.dumps(receipt, indent=2, sort_keys=True, default=str).encode("utf-8"),
        )
        self.fs.mv(self.path(name), self.path(folder, stored_name))
        return f"{folder}/{stored_name}"


def claim(
    engine: Engine, content_hash: str, name: str, source: str | None, now: datetime
) -> tuple[str | None, dict | None]:
    """Take the file for this worker: returns (claim token, the claim row) or (None, the existing row).

    Every take counts one attempt, committed before the file is read, so a try that kills the process
    (out of memory) is counted too. A claim is free to take again when its last attempt ended without a
    result (``finished_at`` set while still ``claimed``), when it is stale (a dead worker), or when the file
    had failed and was dropped again (the count starts over).
    """
    token = secrets.token_hex(16)
    t = schema.ingest_files
    with engine.begin() as conn:
        row = {
            "content_hash": content_hash,
            "file_name": name[:500],
            "source": source,
            "status": "claimed",
            "claim_token": token,
            "claimed_at": now,
            "attempts": 1,
        }
        if insert_ignore(conn, t, row) == 1:
            return token, row
        existing = conn.execute(select(t).where(t.c.content_hash == content_hash)).mappings().one()
        again = existing["status"] == "failed"
        retake = again or (
            existing["status"] == "claimed"
            and (existing["finished_at"] is not None or existing["claimed_at"] < now - STALE_CLAIM)
        )
        if retake:
            values = {
                "status": "claimed",
                "claim_token": token,
                "claimed_at": now,
                "file_name": name[:500],
                "source": source,
                "finished_at": None,
                "attempts": 1 if again else existing["attempts"] + 1,
            }
            if again:
                values["reason"] = None
            taken = conn.execute(
                update(t)
                .where(t.c.id == existing["id"], t.c.claim_token == existing["claim_token"])
                .values(**values)
            ).rowcount
            if taken == 1:
                return token, {**dict(existing), **values}
        return None, dict(existing)


def release(engine: Engine, content_hash: str, token: str, reason: str, now: datetime) -> None:
    """End this attempt without a result: the file stays in the inbox, its attempt counted, free to retry."""
    t = schema.ingest_files
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.content_hash == content_hash, t.c.claim_token == token)
            .values(finished_at=now, reason=reason[:500])
        )


def _retried_names(engine: Engine, names: list[str]) -> set[str]:
    """Drops whose last attempt stopped without a result: they wait until the fresh files are in."""
    t = schema.ingest_files
    found: set[str] = set()
    with engine.connect() as conn:
        for i in range(0, len(names), 500):
            found.update(
                conn.execute(
                    select(t.c.file_name).where(
                        t.c.status == "claimed", t.c.file_name.in_(names[i : i + 500])
                    )
                ).scalars()
            )
    return found


def ingest_inbox(
    engine: Engine,
    fs: Any,
    root: str,
    sources: SourcesConfig,
    mapping: HeaderMappingConfig,
    as_of: datetime,
    chunk_rows: int | None = None,
) -> list[FileReport]:
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
    drops = inbox.drops()
    retried = _retried_names(engine, drops) if drops else set()
    # A file that stopped an earlier run (it may kill this one too) goes after the others, never before them.
    for name in sorted(drops, key=lambda n: (n in retried, n)):
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
        raise InboxError(
            f"{len(errors)} file(s) not ingested, left in the inbox for the retry; first: {errors[0]}"
        )
    return reports


def ingest_file(
    engine: Engine,
    inbox: Inbox,
    name: str,
    sources: SourcesConfig,
    mapping: HeaderMappingConfig,
    as_of: datetime,
    chunk_rows: int,
) -> FileReport:
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
    max_attempts = settings.env_int("FUNNELFLOW_INGEST_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)
    if token is not None and existing and existing["attempts"] > max_attempts and problem is None:
        # Tried enough: whatever stopped it (a worker killed for memory, a crash) would stop it again.
        last = existing.get("reason") or "the process ended without reporting (killed, e.g. out of memory)"
        problem = f"not ingested after {existing['attempts'] - 1} attempts; the last one: {last}"
    stored_name = f"{content_hash[:12]}-{name}"
    if token is None:
        if existing and existing["status"] == "ingested":
            receipt = {
                "file": name,
                "status": "duplicate_content",
                "content_hash": content_hash,
                "same_as": existing["stored_as"],
                "counts": Counts().as_dict(),
                "processed_at": now,
            }
            stored = inbox.store(name, ARCHIVE_DIR, f"{stored_name}.{now:%Y%m%dT%H%M%S}", receipt)
            return FileReport(
                name,
                "duplicate_content",
                source.name,
                stored_as=stored,
                reason=f"same content as {existing['stored_as']}",
            )
        return FileReport(name, "busy", source.name, reason="claimed by another worker")
    try:
        if problem is not None:
            raise FileUnreadable(problem)
        if source.webinar:
            return _ingest_attendance(
                engine, inbox, name, stored_name, content_hash, token, source, as_of, now
            )
        report = _ingest_claimed(
            engine, inbox, name, stored_name, facts, token, source, mapping, as_of, now, chunk_rows
        )
    except FileUnreadable as exc:
        return _fail(engine, inbox, name, stored_name, content_hash, token, source.name, str(exc), now)
    except BaseException as exc:
        release(engine, content_hash, token, redact_addresses(f"{type(exc).__name__}: {exc}"), now)
        raise
    return report


def _hash_of(inbox: Inbox, name: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with inbox.open(name) as stream:
        while block := stream.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _fail(
    engine: Engine,
    inbox: Inbox,
    name: str,
    stored_name: str,
    content_hash: str,
    token: str,
    source: str,
    reason: str,
    now: datetime,
) -> FileReport:
    t = schema.ingest_files
    stored = f"{FAILED_DIR}/{stored_name}"
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.content_hash == content_hash, t.c.claim_token == token)
            .values(status="failed", reason=reason[:500], finished_at=now, stored_as=stored)
        )
    receipt = {
        "file": name,
        "status": "failed",
        "reason": reason,
        "content_hash": content_hash,
        "source": source,
        "processed_at": now,
        "fix": "export the list again as CSV (UTF-8) or XLSX and drop the new file",
    }
    inbox.store(name, FAILED_DIR, stored_name, receipt)
    log.warning("file %r failed: %s", name, reason)
    return FileReport(name, "failed", source, reason=reason, stored_as=stored)


def _ingest_claimed(
    engine: Engine,
    inbox: Inbox,
    name: str,
    stored_name: str,
    facts: FileFacts,
    token: str,
    source,
    mapping: HeaderMappingConfig,
    as_of: datetime,
    now: datetime,
    chunk_rows: int,
) -> FileReport:
    arrival = Arrival(
        source=source.name,
        channel="file_import",
        touch_type="import",
        campaign=source.campaign,
        consent_status=source.consent.status if source.consent else None,
        legal_basis=source.consent.legal_basis if source.consent else None,
        source_file=stored_name,
    )
    counts = Counts()
    stored = f"{ARCHIVE_DIR}/{stored_name}"
    postgres = is_postgres(engine)
    # source_ref = file:<hash>:<line, zero-padded>: in line order the keys only grow, so the unique index
    # takes them at its right edge instead of all over.
    ref_prefix = f"file:{facts.content_hash[:16]}:"
    job = FileJob(
        facts=asdict(facts),
        chunk_rows=chunk_rows,
        as_of=as_of.isoformat(),
        source=source.name,
        campaign=source.campaign,
        extra_aliases=mapping.extra_aliases,
        ignore=list(mapping.ignore),
        postgres=postgres,
    )
    unresolved: list[int] = []
    with inbox.open(name) as stream, engine.begin() as conn:
        if postgres:
            # Big one-off statements: JIT compiling costs more than it saves; sorts of a chunk stay in memory.
            # The stage's temporary tables have no statistics (autovacuum skips them, ANALYZE per chunk
            # costs more than it saves): without merge joins the planner hashes them instead of sorting
            # each three times.
            conn.execute(text("set local jit = off"))
            conn.execute(text("set local work_mem = '64MB'"))
            conn.execute(text("set local enable_mergejoin = off"))
        # Closed on every way out: on a database error the read-ahead ends and the worker is killed.
        with closing(read_ahead(job.run(stream), name="ingest-read-ahead")) as messages:
            with timed("wait_for_worker"):
                first = next(messages)
            if first[0] == "unreadable":
                raise FileUnreadable(first[1])
            _, headers, columns, unknown, ignored = first
            while True:
                with timed("wait_for_worker"):
                    message = next(messages, None)
                if message is None or message[0] == "done":
                    stats = message[1] if message else {}
                    break
                if message[0] == "unreadable":
                    raise FileUnreadable(message[1])
                _, rows_in, duplicates, rejects, people, arrivals, company = message
                counts.rows_in += rows_in
                counts.duplicates += duplicates
                with timed("stage"):
                    start_batch(conn)
                    load_people(conn, people)
                    load_stage(conn, "ingest_arrivals", arrivals)
                result = apply_batch(conn, arrival, now, ref_prefix=ref_prefix)
                write_company_facts(conn, company, source.name)
                counts.inserted += result.inserted
                counts.updated += result.updated
                unresolved += result.unresolved
                with timed("rejects"):
                    write_rejects(conn, source.name, stored_name, rejects, now)
                counts.rejected += len(rejects)
        if unresolved:  # rare: read those rows again to keep them exactly as they arrived
            raw = _rows_at_lines(inbox, name, facts, set(unresolved))
            write_rejects(
                conn,
                source.name,
                stored_name,
                [(line, REASON_UNRESOLVED, raw[line]) for line in unresolved],
                now,
            )
            counts.rejected += len(unresolved)
        counts.check(f"file {name!r}")
        t = schema.ingest_files
        conn.execute(
            update(t)
            .where(t.c.content_hash == facts.content_hash, t.c.claim_token == token)
            .values(status="ingested", counts=counts.as_dict(), finished_at=now, stored_as=stored)
        )
    log.info("file %r worker: %s", name, stats)
    receipt = {
        "file": name,
        "status": "ingested",
        "source": source.name,
        "content_hash": facts.content_hash,
        "format": facts.kind,
        "encoding": facts.encoding,
        "delimiter": facts.delimiter,
        "foreign_encoding_lines": facts.foreign_lines,  # lines rejected for not being in the file's encoding
        "counts": counts.as_dict(),
        "columns": columns,
        "unknown_columns": list(unknown),
        "processed_at": now,
        "rejects": f"ingest_rejects where source_file = '{stored_name}'",
    }
    inbox.store(name, ARCHIVE_DIR, stored_name, receipt)
    return FileReport(name, "ingested", source.name, counts, tuple(unknown), stored_as=stored, worker=stats)


MAX_ATTENDANCE_BYTES = 64 * 2**20  # an attendee report of a huge webinar is a few MB


def _ingest_attendance(
    engine: Engine,
    inbox: Inbox,
    name: str,
    stored_name: str,
    content_hash: str,
    token: str,
    source,
    as_of: datetime,
    now: datetime,
) -> FileReport:
    """A webinar's attendee report: attendance marked, new attendees landed as leads (webinars module)."""
    from funnelflow.webinars.attendance import ReportNotRecognised
    from funnelflow.webinars.attendance_import import import_report
    from funnelflow.webinars.config import WebinarConfigError, webinar_named

    with inbox.open(name) as stream:
        data = stream.read(MAX_ATTENDANCE_BYTES + 1)
    if len(data) > MAX_ATTENDANCE_BYTES:
        raise FileUnreadable(f"an attendee report over {MAX_ATTENDANCE_BYTES // 2**20} MB is not one we know")
    try:
        webinar = webinar_named(source.webinar)
        result = import_report(engine, webinar, data, stored_name, source, as_of)
    except (ReportNotRecognised, WebinarConfigError, UnicodeDecodeError) as exc:
        raise FileUnreadable(f"not an attendee report of webinar {source.webinar!r}: {exc}") from None
    counts = Counts(
        rows_in=result.rows - result.not_attendees,
        inserted=result.attendees - result.known - (result.rejected - result.parser_rejects),
        updated=result.known,
        rejected=result.rejected,
        duplicates=result.rejoins,
    )
    counts.check(f"attendee report {name!r}")
    stored = f"{ARCHIVE_DIR}/{stored_name}"
    t = schema.ingest_files
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.content_hash == content_hash, t.c.claim_token == token)
            .values(status="ingested", counts=counts.as_dict(), finished_at=now, stored_as=stored)
        )
    receipt = {
        "file": name,
        "status": "ingested",
        "source": source.name,
        "webinar": source.webinar,
        "platform": result.platform,
        "content_hash": content_hash,
        "counts": counts.as_dict(),
        "not_attendees": result.not_attendees,  # hosts, panelists, registrants who never joined
        "attended": result.attended,
        "no_show": result.no_show,
        "processed_at": now,
        "rejects": f"ingest_rejects where source_file = '{stored_name}#{content_hash[:16]}'",
    }
    inbox.store(name, ARCHIVE_DIR, stored_name, receipt)
    return FileReport(name, "ingested", source.name, counts, stored_as=stored)


def _rows_at_lines(inbox: Inbox, name: str, facts: FileFacts, lines: set[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = {}
    with inbox.open(name) as stream:
        headers, chunks = read_records(stream, facts, 10_000)
        for chunk in chunks:
            for row, line in zip(chunk.rows, chunk.lines, strict=True):
                if line in lines:
                    found[line] = dict(zip(headers, row, strict=True))
    return found
