"""Files that try to cost the server its memory or the data its meaning: zip bombs, files that kill the
worker, mixed encodings. Each is set aside with its reason and never holds up the files after it."""

from __future__ import annotations

import codecs
import io
import json
import re
import struct
import sys
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from funnelflow.ingest.readers import FileUnreadable, inspect_file, read_records
from tests.factories import AS_OF, count, rows
from tests.ingest.factories import run_inbox

SHEET = "xl/worksheets/sheet1.xml"


def _workbook_bytes() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["Email", "First Name"])
    book.active.append(["first@example.com", "First"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _zip_bomb(inflated_mb: int) -> bytes:
    """A real workbook whose sheet inflates to ``inflated_mb`` MB of rows (sizes declared honestly)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(_workbook_bytes())) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for item in src.infolist():
            if item.filename != SHEET:
                dst.writestr(item, src.read(item.filename))
                continue
            # Without its <dimension>, every row is read (a reader may trust the stated range otherwise).
            head, tail = re.sub(rb"<dimension[^>]*/>", b"", src.read(SHEET)).split(b"</sheetData>")
            block = b'<row><c t="inlineStr"><is><t>bomb@example.com</t></is></c></row>' * 16_000
            with dst.open(SHEET, "w", force_zip64=True) as sheet:
                sheet.write(head)
                for _ in range(inflated_mb):
                    sheet.write(block)
                sheet.write(b"</sheetData>" + tail)
    return out.getvalue()


def _with_declared_size(data: bytes, name: str, size: int) -> bytes:
    """The workbook with the central directory claiming ``size`` uncompressed bytes for ``name``."""
    raw = bytearray(data)
    at = raw.find(b"PK\x01\x02" + b"", 0)
    while at != -1:
        name_len = struct.unpack_from("<H", raw, at + 28)[0]
        if raw[at + 46 : at + 46 + name_len].decode() == name:
            struct.pack_into("<I", raw, at + 24, size)
            return bytes(raw)
        at = raw.find(b"PK\x01\x02", at + 4)
    raise AssertionError(f"{name} not in the archive")


def test_a_zip_bomb_workbook_goes_to_failed_with_its_reason(
    engine, inbox: Path, config_dir: Path, monkeypatch
):
    monkeypatch.setenv("FUNNELFLOW_INGEST_MAX_INFLATED_MB", "8")
    bomb = _zip_bomb(inflated_mb=60)
    assert len(bomb) < 2_000_000  # small on disk, 60+ MB inflated
    (inbox / "a-tradeshow-bomb.xlsx").write_bytes(bomb)
    (inbox / "b-good.csv").write_text("Email\ngood@example.com\n", encoding="utf-8")

    reports = {r.name: r for r in run_inbox(engine, inbox, config_dir)}

    bombed = reports["a-tradeshow-bomb.xlsx"]
    assert bombed.status == "failed"
    assert "more than the limit of 8 MB" in bombed.reason and "zip bomb" in bombed.reason
    assert reports["b-good.csv"].counts.inserted == 1  # the file after it landed
    assert (inbox / "failed").joinpath(bombed.stored_as.split("/", 1)[1]).exists()
    receipt = json.loads(next((inbox / "failed").glob("*bomb.xlsx.receipt.json")).read_text())
    assert receipt["status"] == "failed" and "FUNNELFLOW_INGEST_MAX_INFLATED_MB" in receipt["reason"]
    assert rows(engine, "select email_key from leads") == [{"email_key": "good@example.com"}]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_workbook_declaring_gigabytes_is_refused_before_reading(engine, inbox: Path, config_dir: Path):
    # The default limit; the archive claims 4 GB for its sheet: refused without inflating anything.
    huge = _with_declared_size(_workbook_bytes(), SHEET, 0xFFFF_0000)
    (inbox / "list.xlsx").write_bytes(huge)
    [report] = run_inbox(engine, inbox, config_dir)
    assert report.status == "failed" and "declares 4096 MB uncompressed" in report.reason


def test_a_workbook_understating_its_size_is_read_no_further_than_declared():
    # A part that inflates to more than it declares is cut at the declared size and fails as damaged.
    data = _with_declared_size(_zip_bomb(inflated_mb=2), SHEET, 4096)
    facts = inspect_file(io.BytesIO(data))
    with pytest.raises(FileUnreadable, match="Bad CRC-32|damaged"):
        _, chunks = read_records(io.BytesIO(data), facts, 1000)
        list(chunks)


def test_bytes_are_counted_while_a_workbook_is_read():
    from funnelflow.ingest.readers import _BoundedArchive, _read_xlsx

    data = _zip_bomb(inflated_mb=2)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        declared = sum(i.file_size for i in z.infolist())
        sheet_size = z.getinfo(SHEET).file_size
    # Exactly the declared bytes are within the limit (a part opened twice counts once) ...
    _, chunks = _read_xlsx(io.BytesIO(data), 1000, max_inflated=declared)
    assert sum(len(c.rows) for c in chunks) == 2 * 16_000 + 1
    # ... and what is read is counted as it streams: with room for less than the sheet, reading it stops.
    archive = _BoundedArchive(zipfile.ZipFile(io.BytesIO(data)), declared)
    archive.limit = sheet_size // 2
    with pytest.raises(FileUnreadable, match="inflates to over"), archive.open(SHEET) as part:
        while part.read(64 * 1024):
            pass
    assert archive.inflated <= sheet_size // 2 + 1024 * 1024


def test_a_file_that_kills_the_worker_goes_to_failed_after_a_few_tries(
    engine, inbox: Path, config_dir: Path, monkeypatch
):
    import funnelflow.ingest.files as files
    from funnelflow.ingest.worker import FileJob

    monkeypatch.setenv("FUNNELFLOW_INGEST_MAX_ATTEMPTS", "3")
    poison = "a-poison.csv"
    (inbox / poison).write_text("Email\npoison@example.com\n", encoding="utf-8")
    poison_hash = inspect_file(io.BytesIO((inbox / poison).read_bytes())).content_hash
    real_run = FileJob.run

    def run(self, stream):
        if self.facts["content_hash"] != poison_hash:
            yield from real_run(self, stream)
            return
        saved = sys.executable
        sys.executable = "/bin/false"  # this file's worker process dies at once, every time
        try:
            yield from real_run(self, stream)
        finally:
            sys.executable = saved

    monkeypatch.setattr(FileJob, "run", run)
    for attempt in (1, 2, 3):
        (inbox / f"b-later-{attempt}.csv").write_text(
            f"Email\nlater{attempt}@example.com\n", encoding="utf-8"
        )
        with pytest.raises(files.InboxError, match="worker exited"):
            run_inbox(engine, inbox, config_dir)
        assert (inbox / poison).exists()
        assert rows(engine, "select attempts from ingest_files where file_name = :n", n=poison) == [
            {"attempts": attempt}
        ]
        # The file that dropped after it landed all the same.
        assert count(engine, "leads") == attempt

    reports = run_inbox(engine, inbox, config_dir)  # the fourth run does not read it again
    [report] = reports
    assert report.status == "failed"
    assert report.reason.startswith("not ingested after 3 attempts; the last one: WorkerFailed")
    assert not (inbox / poison).exists() and report.stored_as.startswith("failed/")
    receipt = json.loads(next((inbox / "failed").glob("*a-poison.csv.receipt.json")).read_text())
    assert "not ingested after 3 attempts" in receipt["reason"]
    assert rows(engine, "select status, attempts from ingest_files where file_name = :n", n=poison) == [
        {"status": "failed", "attempts": 4}
    ]


def test_a_retried_file_waits_until_the_fresh_files_are_in(engine, inbox: Path, config_dir: Path):
    from funnelflow.db.schema import utcnow
    from funnelflow.ingest.files import claim, release

    (inbox / "a-retried.csv").write_text("Email\na@example.com\n", encoding="utf-8")
    (inbox / "c-fresh.csv").write_text("Email\nc@example.com\n", encoding="utf-8")
    # An earlier run's attempt at a-retried.csv stopped (as a crash would leave it).
    digest = inspect_file(io.BytesIO((inbox / "a-retried.csv").read_bytes())).content_hash
    token, _ = claim(engine, digest, "a-retried.csv", "list-upload", utcnow())
    release(engine, digest, token, "WorkerFailed: killed", utcnow())

    reports = run_inbox(engine, inbox, config_dir)

    assert [(r.name, r.status) for r in reports] == [
        ("c-fresh.csv", "ingested"),
        ("a-retried.csv", "ingested"),
    ]


def test_a_stale_claim_of_a_dead_process_counts_as_an_attempt(engine):
    from funnelflow.db.schema import utcnow
    from funnelflow.ingest.files import claim

    then = utcnow() - timedelta(hours=2)
    first, _ = claim(engine, "d" * 64, "a.csv", "list-upload", then)  # the process died holding it
    token, row = claim(engine, "d" * 64, "a.csv", "list-upload", utcnow())
    assert first and token and row["attempts"] == 2


# --- encodings ------------------------------------------------------------------------------------

NAMES = ["Jürgen", "Zoë", "François", "Ørsted"]


def _utf8_rows(n: int) -> list[bytes]:
    return [f"p{i}@example.com,{NAMES[i % 4]},Müller GmbH\n".encode() for i in range(n)]


def test_one_cp1252_line_in_a_utf8_file_is_rejected_not_the_whole_file_garbled(
    engine, inbox: Path, config_dir: Path
):
    lines = [b"Email,First Name,Company\n", *_utf8_rows(300)]
    lines.insert(151, "bad@example.com,Jürgen,Café Größe\n".encode("cp1252"))  # physical line 152
    (inbox / "mixed.csv").write_bytes(b"".join(lines))

    [report] = run_inbox(engine, inbox, config_dir)

    assert report.status == "ingested"
    assert report.counts.as_dict() == {
        "rows_in": 301,
        "inserted": 300,
        "updated": 0,
        "rejected": 1,
        "duplicates": 0,
    }
    names = {r["first_name"] for r in rows(engine, "select first_name from leads")}
    assert names == set(NAMES)  # no "JÃ¼rgen"
    assert rows(engine, "select count(*) as n from leads where company = 'Müller GmbH'") == [{"n": 300}]
    [reject] = rows(engine, "select line_number, reason, raw from ingest_rejects")
    raw = reject["raw"] if isinstance(reject["raw"], dict) else json.loads(reject["raw"])
    assert reject["line_number"] == 152
    assert "line 152 is not UTF-8 like the rest of the file" in reject["reason"]
    assert raw == {
        "Email": "bad@example.com",
        "First Name": "J\\xfcrgen",
        "Company": "Caf\\xe9 Gr\\xf6\\xdfe",
    }
    receipt = json.loads(next((inbox / "archive").glob("*mixed.csv.receipt.json")).read_text())
    assert (receipt["encoding"], receipt["foreign_encoding_lines"]) == ("utf-8", 1)

    # A replay (after some mapping fix) cannot restore the line's bytes: it stays set aside.
    from funnelflow.ingest.config import load_header_mapping, load_sources
    from funnelflow.ingest.replay import replay_rejects

    replayed = replay_rejects(engine, load_sources(config_dir), load_header_mapping(config_dir), AS_OF)
    assert (replayed.rejected, replayed.inserted) == (1, 0)
    assert count(engine, "leads") == 300
    latest = rows(engine, "select reason from ingest_rejects where replayed_at is null")
    assert [r["reason"] for r in latest] == [
        "not UTF-8 like the rest of its file: replay cannot restore its bytes; "
        "export the list again as UTF-8 and drop the new file"
    ]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_quoted_newline_record_with_a_foreign_line_is_one_reject(engine, inbox: Path, config_dir: Path):
    data = (
        b"Email,First Name,Notes\n"
        + "a@example.com,Jürgen,ok\n".encode()
        + b'b@example.com,B,"first line\n'
        + 'second line G\u00fcnter"\n'.encode("cp1252")
        + "c@example.com,Zoë,ok\n".encode()
    )
    (inbox / "notes.csv").write_bytes(data)
    [report] = run_inbox(engine, inbox, config_dir)
    assert (report.counts.inserted, report.counts.rejected) == (2, 1)
    [reject] = rows(engine, "select line_number, reason from ingest_rejects")
    assert reject["line_number"] == 3 and "line 4 is not UTF-8" in reject["reason"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_one_utf8_line_in_a_cp1252_file_is_rejected(engine, inbox: Path, config_dir: Path):
    lines = [b"Email;First Name\n"]
    lines += [f"p{i}@example.com;{NAMES[i % 3]}\n".encode("cp1252") for i in range(50)]
    lines.append("u@example.com;Jürgen\n".encode())
    (inbox / "old-export.csv").write_bytes(b"".join(lines))
    [report] = run_inbox(engine, inbox, config_dir)
    assert (report.counts.inserted, report.counts.rejected) == (50, 1)
    assert {r["first_name"] for r in rows(engine, "select first_name from leads")} == set(NAMES[:3])
    [reject] = rows(engine, "select line_number, reason from ingest_rejects")
    assert (
        reject["line_number"] == 52 and "UTF-8 text while the rest of the file is cp1252" in reject["reason"]
    )


def test_utf8_files_are_not_read_twice():
    class OneWay(io.BytesIO):
        def seek(self, *args):  # inspect_file must not need a second pass for a clean UTF-8 file
            if self.tell():
                raise AssertionError("read twice")
            return super().seek(*args)

    facts = inspect_file(OneWay(b"Email,Name\n" + b"".join(_utf8_rows(10))))
    assert (facts.encoding, facts.foreign_lines) == ("utf-8", 0)


def test_a_bom_marked_utf8_file_with_a_cp1252_line_rejects_that_line_only():
    data = (
        codecs.BOM_UTF8
        + b"Email;Vorname\r\n"
        + "a@example.de;Jürgen\r\n".encode()
        + "b@example.de;Jürgen\r\n".encode("cp1252")
    )
    facts = inspect_file(io.BytesIO(data))
    assert (facts.encoding, facts.foreign_lines, facts.delimiter) == ("utf-8-sig", 1, ";")
    headers, chunks = read_records(io.BytesIO(data), facts, 100)
    [chunk] = list(chunks)
    assert headers == ["Email", "Vorname"] and chunk.rows == [["a@example.de", "Jürgen"]]
    [(line, reason, cells)] = chunk.malformed
    assert (line, cells) == (3, ["b@example.de", "J\\xfcrgen"]) and "line 3 is not UTF-8" in reason
