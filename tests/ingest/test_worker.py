"""The file worker process on its own: its messages, its accounting, its errors."""

from __future__ import annotations

import io

import pytest

from funnelflow.ingest.rows import ARRIVAL_COLUMNS, PEOPLE_COLUMNS
from funnelflow.ingest.worker import FileJob, WorkerFailed
from tests.ingest.factories import file_job

CSV = (
    "Email,First Name,Phone,Country,Do Not Email\n"
    "Ann@Example.com,Ann,030 1234567,DE,\n"
    "ann@example.com,,,,yes\n"  # the same person again (other casing): one person row, two arrivals
    "Ann@Example.com,Ann,030 1234567,DE,\n"  # an exact repeat of line 2: a duplicate
    "broken@,Bob,,,\n"
)


def _job(**overrides) -> FileJob:
    return file_job(CSV.encode(), **overrides)


def test_the_worker_sends_headers_chunks_and_a_summary():
    # SQLite's job: the stage rows themselves (PostgreSQL's are COPY's binary data of the same rows,
    # checked by loading them: tests/ingest/test_stage_copy.py).
    messages = list(_job(postgres=False).run(io.BytesIO(CSV.encode())))
    kinds = [m[0] for m in messages]
    assert kinds == ["headers", "chunk", "done"]
    _, headers, columns, unknown, _ = messages[0]
    assert headers == ["Email", "First Name", "Phone", "Country", "Do Not Email"] and unknown == ()
    assert columns["Do Not Email"] == "do_not_email"
    _, rows_in, duplicates, rejects, people_rows, arrival_rows, company_rows = messages[1]
    assert company_rows == []  # no company columns, nothing to stage
    assert (rows_in, duplicates) == (4, 1)
    assert [(line, reason) for line, reason, _ in rejects] == [(5, "malformed email")]
    assert rejects[0][2] == {
        "Email": "broken@",
        "First Name": "Bob",
        "Phone": "",
        "Country": "",
        "Do Not Email": "",
    }
    [person] = [dict(zip(PEOPLE_COLUMNS, row, strict=True)) for row in people_rows]
    assert (
        person["match_key"],
        person["first_name"],
        person["phone_e164"],
        person["arrivals"],
        person["first_pos"],
    ) == ("e:ann@example.com", "Ann", "+49301234567", 2, 2)
    arrivals = [dict(zip(ARRIVAL_COLUMNS, row, strict=True)) for row in arrival_rows]
    assert [(a["pos"], a["campaign"], a["source_ref"]) for a in arrivals] == [
        (2, "spring", None),
        (3, "spring", None),
    ]
    assert (
        arrivals[0]["dne_hash"] is None and len(arrivals[1]["dne_hash"]) == 64
    )  # "Do Not Email: yes" on line 3
    assert messages[2][1]["worker_peak_mb"] > 0


def test_an_unreadable_file_is_reported_not_raised():
    job = _job(
        facts={"content_hash": "0" * 64, "size": 10, "kind": "csv", "encoding": "utf-8", "delimiter": ","}
    )
    messages = list(job.run(io.BytesIO(b"\n\n")))
    assert messages[-1][0] == "unreadable" and "no header row" in messages[-1][1]


def test_a_worker_error_reaches_the_caller_with_addresses_masked():
    with pytest.raises(WorkerFailed) as err:
        list(
            _job(as_of="ann@example.com").run(io.BytesIO(CSV.encode()))
        )  # not a time: the worker fails at once
    assert "ann@example.com" not in str(err.value) and "[address]" in str(err.value)
