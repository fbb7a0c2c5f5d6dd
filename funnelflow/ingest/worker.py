"""The file worker: reads, de-duplicates and validates a dropped file in its own process.

Python holds one interpreter lock, and reading and validating a million rows is
Python work; writing them is the database's. The worker runs beside the
process that talks to the database, so the two overlap on separate cores
instead of taking turns. ``FileJob.run`` starts it (``python -m
funnelflow.ingest.worker``), streams the file's bytes to its stdin (the inbox
may be S3 or SFTP, which a child process cannot reopen) and yields what it
sends back on stdout, each message a pickled tuple:

- ``("headers", headers, columns, unknown, ignored)`` once, first;
- ``("chunk", rows_in, duplicates, rejects, people, arrivals, company)`` per chunk, ready for
  ``stage.load_stage``: on PostgreSQL COPY's binary data, on SQLite the rows (the company facts, empty
  when the chunk has none, go to ``funnelflow.ingest.company``'s table);
- ``("done", stats)`` last, or ``("unreadable", reason)`` when the file's structure breaks, or
  ``("failed", message)`` for any other error (addresses masked: the message reaches the task log).

Plain Python (no pandas): the worker's start-up and memory stay small.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from operator import itemgetter
from typing import IO, Any

from funnelflow.db.helpers import copy_binary_data
from funnelflow.identity import hash_key
from funnelflow.ingest.mapping import CANONICAL_FIELDS, map_headers
from funnelflow.ingest.normalize import REASON_NO_CONTACT, RecordNormalizer
from funnelflow.ingest.readers import FileFacts, FileUnreadable, RawChunk, read_records
from funnelflow.ingest.rows import (
    ARRIVAL_TYPES,
    COMPANY_TYPES,
    PEOPLE_TYPES,
    collapse_company,
    collapse_people,
    in_email_key_order,
    stage_time,
)
from funnelflow.privacy import redact_addresses

NO_IDENTITY_HINT = (
    ": no column maps to email or phone; add the header as an alias in config/header_mapping.yaml, "
    "then run `python -m funnelflow rejects replay`"
)


DEFAULT_MEMORY_MB = 2048
# The worker runs ahead of the database by a chunk or two; when both want the same core (PostgreSQL on the
# same machine, as in the embedded set-up and the benchmark), the database's statements go first.
WORKER_NICENESS = 10


class WorkerFailed(RuntimeError):
    """The worker process stopped without finishing the file (crash, kill, out of memory)."""


@dataclass(frozen=True)
class FileJob:
    """Everything the worker needs besides the bytes (sent as JSON on its command line)."""

    facts: dict[str, Any]
    chunk_rows: int
    as_of: str
    source: str
    campaign: str | None
    extra_aliases: dict[str, str]
    ignore: list[str]
    postgres: bool

    def run(self, stream: IO[bytes]) -> Iterator[tuple]:
        """Start the worker, feed it ``stream`` and yield its messages; raises ``WorkerFailed`` if it dies."""
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p),
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "funnelflow.ingest.worker", json.dumps(asdict(self))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        feeder = threading.Thread(target=_feed, args=(stream, proc.stdin), name="ingest-feed", daemon=True)
        feeder.start()
        finished = False
        try:
            while True:
                try:
                    message = pickle.load(proc.stdout)
                except EOFError:
                    break
                if message[0] == "failed":
                    raise WorkerFailed(f"ingestion worker failed: {message[1]}")
                yield message
                if message[0] in ("done", "unreadable"):
                    finished = True
                    break
        finally:
            if not finished:
                proc.kill()
            proc.stdout.close()
            code = proc.wait()
            feeder.join(timeout=5)
        if not finished:
            raise WorkerFailed(f"ingestion worker exited with code {code} before the end of the file")


def _feed(stream: IO[bytes], sink: IO[bytes]) -> None:
    try:
        while block := stream.read(1024 * 1024):
            sink.write(block)
    except (BrokenPipeError, ValueError):  # the worker stopped reading (unreadable file, or killed)
        pass
    finally:
        try:
            sink.close()
        except BrokenPipeError:
            pass


class ChunkPreparer:
    """Turns raw chunks into stage rows: exact repeats dropped, every row normalized,
    rejects kept with their line."""

    def __init__(self, job: FileJob, headers: list[str], columns: dict[str, str], has_identity: bool) -> None:
        self.job = job
        self.headers = headers
        self.seen: set[int] = set()
        self.normalizer = RecordNormalizer(datetime.fromisoformat(job.as_of))
        slot_of = {field: headers.index(header) for header, field in columns.items()}
        blank = len(headers)  # a record is the row plus one "" cell, which unmapped fields point at
        self.record_of = itemgetter(*(slot_of.get(name, blank) for name in CANONICAL_FIELDS))
        self.no_contact = REASON_NO_CONTACT if has_identity else REASON_NO_CONTACT + NO_IDENTITY_HINT
        self.times: dict[datetime, datetime | str] = {}

    def prepare(self, chunk: RawChunk) -> tuple:
        headers, job, seen, normalize = self.headers, self.job, self.seen, self.normalizer.normalize
        rejects: list[tuple[int | None, str, dict]] = []
        for line, problem, cells in chunk.malformed:
            names = headers + [f"extra {i + 1}" for i in range(len(cells) - len(headers))]
            rejects.append((line, problem, dict(zip(names, cells, strict=False))))
        people, arrivals, company_facts, duplicates = [], [], [], 0
        times, postgres, source, campaign = self.times, job.postgres, job.source, job.campaign
        for row, line in zip(chunk.rows, chunk.lines, strict=True):
            fingerprint = hash(tuple(row))
            if fingerprint in seen:
                duplicates += 1
                continue
            seen.add(fingerprint)
            row.append("")
            values, reason = normalize(self.record_of(row))
            row.pop()
            if reason:
                if reason == REASON_NO_CONTACT:
                    reason = self.no_contact
                rejects.append((line, reason, dict(zip(headers, row, strict=True))))
                continue
            (
                key,
                email,
                email_key,
                domain,
                first,
                last,
                company,
                title,
                phone,
                e164,
                country,
                external_id,
                original_source,
                row_campaign,
                utm_source,
                utm_medium,
                utm_campaign,
                utm_term,
                utm_content,
                page_url,
                at,
                status,
                legal,
                do_not_email,
                industry,
                employee_count,
                employee_band,
                annual_revenue,
                revenue_band,
            ) = values
            by_id = key[0] == "x"
            if industry or employee_band or revenue_band:
                company_facts.append(
                    [key, industry, employee_count, employee_band, annual_revenue, revenue_band]
                )
            at_stage = times.get(at)
            if at_stage is None:
                at_stage = times[at] = stage_time(at, postgres)
            people.append(
                [
                    key,
                    email,
                    email_key,
                    domain,
                    first,
                    last,
                    company,
                    title,
                    phone,
                    e164,
                    country,
                    source if by_id else None,
                    external_id if by_id else None,
                    (original_source or source)[:60],
                    at_stage,
                    at_stage,
                    1,
                    line,
                ]
            )
            # source_ref and detail are left to the stage SQL, which makes them from the line number.
            arrivals.append(
                (
                    line,
                    key,
                    at_stage,
                    row_campaign or campaign,
                    utm_source,
                    utm_medium,
                    utm_campaign,
                    utm_term,
                    utm_content,
                    page_url,
                    None,
                    None,
                    status,
                    legal,
                    None,
                    hash_key(email_key) if do_not_email and email_key else None,
                )
            )
        collapsed = in_email_key_order(collapse_people(people))
        rows_in = len(chunk.rows) + len(chunk.malformed)
        company = collapse_company(company_facts) if company_facts else []
        if not postgres:
            return rows_in, duplicates, rejects, collapsed, arrivals, company
        return (
            rows_in,
            duplicates,
            rejects,
            copy_binary_data(collapsed, PEOPLE_TYPES),
            copy_binary_data(arrivals, ARRIVAL_TYPES),
            copy_binary_data(company, COMPANY_TYPES) if company else b"",
        )


def _send(out: IO[bytes], message: tuple) -> None:
    pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def _limit_memory() -> int:
    """Cap the worker's address space (``FUNNELFLOW_INGEST_WORKER_MEMORY_MB``):
    a file too big to read fails alone.

    Past the cap an allocation raises ``MemoryError`` here instead of the machine's out-of-memory killer
    picking a process (maybe the database's) to end.
    """
    from funnelflow import settings

    limit_mb = settings.env_int("FUNNELFLOW_INGEST_WORKER_MEMORY_MB", DEFAULT_MEMORY_MB)
    if limit_mb > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        wanted = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (min(wanted, hard) if hard > 0 else wanted, hard))
    return limit_mb


def main() -> None:
    limit_mb = _limit_memory()
    os.nice(WORKER_NICENESS)
    job = FileJob(**json.loads(sys.argv[1]))
    facts = FileFacts(**job.facts)
    out = sys.stdout.buffer
    started = time.process_time()
    stream: IO[bytes] = sys.stdin.buffer
    if facts.kind == "xlsx":  # openpyxl needs to seek
        spool = tempfile.TemporaryFile()
        while block := stream.read(1024 * 1024):
            spool.write(block)
        spool.seek(0)
        stream = spool
    prepare_s = 0.0
    try:
        headers, chunks = read_records(stream, facts, job.chunk_rows)
        hmap = map_headers(headers, job.extra_aliases, job.ignore)
        _send(out, ("headers", headers, hmap.columns, hmap.unknown, hmap.ignored))
        preparer = ChunkPreparer(job, headers, hmap.columns, hmap.has_identity)
        for chunk in chunks:
            t = time.process_time()
            message = ("chunk", *preparer.prepare(chunk))
            prepare_s += time.process_time() - t
            _send(out, message)
    except FileUnreadable as exc:
        _send(out, ("unreadable", str(exc)))
        return
    except MemoryError:
        _send(
            out,
            (
                "unreadable",
                f"reading the file needs more than the worker's {limit_mb} MB of memory "
                "(FUNNELFLOW_INGEST_WORKER_MEMORY_MB); split the list into smaller files",
            ),
        )
        return
    except (
        Exception
    ) as exc:  # a traceback on stderr could quote a row; the message is masked and sent instead
        _send(out, ("failed", redact_addresses(f"{type(exc).__name__}: {exc}")))
        sys.exit(1)
    cpu_s = time.process_time() - started
    _send(
        out,
        (
            "done",
            {
                "worker_cpu_s": round(cpu_s, 2),
                "validate_cpu_s": round(prepare_s, 2),
                "read_cpu_s": round(cpu_s - prepare_s, 2),
                "worker_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            },
        ),
    )


if __name__ == "__main__":
    main()
