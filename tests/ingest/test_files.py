"""File drops end to end on both backends: outcomes, rejects, receipts, idempotence, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.identity import email_hash
from tests.factories import AS_OF, count, rows
from tests.ingest.factories import run_inbox

HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Company Name,Job Title,Phone Number,Country/Region,Original Source,"
    "UTM Source,UTM Medium,UTM Campaign,UTM Term,UTM Content,Do Not Email,Favourite Colour\n"
    "101,Jane,Doe,Jane.Doe@Example.com,ACME GmbH,CTO,+49 30 1234567,Germany,Paid Social,"
    "linkedin,cpc,q4-launch,crm,hero,,blue\n"
    "102,Max,Mustermann,max@example.org,Muster AG,CEO,,DE,Organic,,,,,,yes,green\n"
    "101,Jane,Doe,Jane.Doe@Example.com,ACME GmbH,CTO,+49 30 1234567,Germany,Paid Social,"
    "linkedin,cpc,q4-launch,crm,hero,,blue\n"
    "103,Bad,Address,not-an-email,X,,,,,,,,,,,\n"
    "104,No,Contact,,Y,,,,,,,,,,,\n"
)


def test_a_file_becomes_leads_touchpoints_rejects_and_a_receipt(engine, inbox: Path, config_dir: Path):
    (inbox / "hubspot-export.csv").write_text(HUBSPOT, encoding="utf-8")
    [report] = run_inbox(engine, inbox, config_dir)

    assert report.status == "ingested"
    assert report.counts.as_dict() == {
        "rows_in": 5,
        "inserted": 2,
        "updated": 0,
        "rejected": 2,
        "duplicates": 1,
    }
    assert report.unknown_columns == ("Favourite Colour",)
    leads = {r["email_key"]: r for r in rows(engine, "select * from leads")}
    assert set(leads) == {"jane.doe@example.com", "max@example.org"}
    jane = leads["jane.doe@example.com"]
    assert (jane["company"], jane["country"], jane["phone_e164"]) == ("ACME GmbH", "DE", "+49301234567")
    touches = rows(engine, "select * from touchpoints order by id")
    assert len(touches) == 2  # the exact repeat in the same file adds none
    assert {
        k: touches[0][k]
        for k in (
            "channel",
            "touch_type",
            "source",
            "utm_source",
            "utm_medium",
            "utm_campaign",
            "utm_term",
            "utm_content",
        )
    } == {
        "channel": "file_import",
        "touch_type": "import",
        "source": "crm-export",
        "utm_source": "linkedin",
        "utm_medium": "cpc",
        "utm_campaign": "q4-launch",
        "utm_term": "crm",
        "utm_content": "hero",
    }
    rejects = rows(engine, "select * from ingest_rejects order by line_number")
    assert [(r["line_number"], r["reason"]) for r in rejects] == [
        (5, "malformed email"),
        (6, "no email and no phone"),
    ]
    assert all(
        r["source"] == "crm-export" and r["source_file"].endswith("-hubspot-export.csv") for r in rejects
    )
    raw = rejects[0]["raw"] if isinstance(rejects[0]["raw"], dict) else json.loads(rejects[0]["raw"])
    assert raw["Email"] == "not-an-email" and raw["Record ID"] == "103"
    supp = rows(engine, "select email_hash, reason from suppressions")
    assert supp == [{"email_hash": email_hash("max@example.org"), "reason": "do_not_email"}]

    assert list(inbox.glob("*.csv")) == []
    [archived] = (inbox / "archive").glob("*-hubspot-export.csv")
    receipt = json.loads(Path(str(archived) + ".receipt.json").read_text())
    assert receipt["counts"] == report.counts.as_dict() and receipt["unknown_columns"] == ["Favourite Colour"]


def test_same_content_again_adds_nothing_and_a_rerun_is_a_no_op(engine, inbox: Path, config_dir: Path):
    (inbox / "list.csv").write_text("email,first name\na@example.com,Ann\n", encoding="utf-8")
    run_inbox(engine, inbox, config_dir)
    before = (count(engine, "leads"), count(engine, "touchpoints"))
    (inbox / "list-copy.csv").write_text("email,first name\na@example.com,Ann\n", encoding="utf-8")
    [again] = run_inbox(engine, inbox, config_dir)
    assert again.status == "duplicate_content"
    assert run_inbox(engine, inbox, config_dir) == []
    assert (count(engine, "leads"), count(engine, "touchpoints")) == before == (1, 1)
    assert count(engine, "ingest_files") == 1


def test_same_person_in_another_file_is_a_new_touchpoint_and_fills_only_blanks(
    engine, inbox: Path, config_dir: Path
):
    (inbox / "a.csv").write_text("email,company,job title\nsam@example.com,Old Co,\n", encoding="utf-8")
    run_inbox(engine, inbox, config_dir)
    (inbox / "webinar-b.csv").write_text(
        "Email,Company,Job Title,First Name\nSAM@example.com,,Head of IT,Sam\n", encoding="utf-8"
    )
    [report] = run_inbox(engine, inbox, config_dir)
    assert report.counts.updated == 1 and report.counts.inserted == 0
    [lead] = rows(engine, "select * from leads")
    assert (lead["company"], lead["job_title"], lead["first_name"]) == ("Old Co", "Head of IT", "Sam")
    assert [t["source"] for t in rows(engine, "select source from touchpoints order by id")] == [
        "list-upload",
        "webinar",
    ]


def test_every_reject_reason_is_recorded_with_line_and_raw_row(engine, inbox: Path, config_dir: Path):
    long_company = "C" * 300
    text = (
        "email,phone,company\n"
        ",,Nobody Inc\n"  # line 2: no email and no phone
        "john@@example.com,,X\n"  # line 3: malformed
        f"long@example.com,,{long_company}\n"  # line 4: too long
        'ok@example.com,,"Multi\nLine Inc"\n'  # lines 5-6: quoted newline, fine
        "extra@example.com,,Y,unexpected\n"  # line 7: more fields than the header
        ",+44 20 7946 0958,Phone Only Ltd\n"  # line 8: phone only, fine
    )
    (inbox / "list.csv").write_text(text, encoding="utf-8")
    [report] = run_inbox(engine, inbox, config_dir)
    assert report.counts.as_dict() == {
        "rows_in": 6,
        "inserted": 2,
        "updated": 0,
        "rejected": 4,
        "duplicates": 0,
    }
    got = {
        r["line_number"]: r["reason"] for r in rows(engine, "select line_number, reason from ingest_rejects")
    }
    assert got[2] == "no email and no phone"
    assert got[3] == "malformed email"
    assert got[4] == "field too long: company (300 characters, at most 255)"
    assert got[7] == "row has 4 fields, the header has 3"
    phone_lead = rows(engine, "select phone_e164 from leads where email_key is null")
    assert phone_lead == [{"phone_e164": "+442079460958"}]
    assert (
        rows(engine, "select company from leads where email_key = 'ok@example.com'")[0]["company"]
        == "Multi\nLine Inc"
    )


def test_formula_cells_and_html_are_stored_as_text(engine, inbox: Path, config_dir: Path):
    text = (
        "email,first name,last name,company\n"
        '"f@example.com","=HYPERLINK(""http://evil.example"",""x"")","+cmd|\' /C calc\'!A0","@SUM(1+1)"\n'
        "h@example.com,<script>alert(1)</script>,<b>Bold</b>,Tom & Jerry <Ltd>\n"
    )
    (inbox / "list.csv").write_text(text, encoding="utf-8")
    run_inbox(engine, inbox, config_dir)
    got = {r["email_key"]: r for r in rows(engine, "select * from leads")}
    assert got["f@example.com"]["first_name"] == '=HYPERLINK("http://evil.example","x")'
    assert got["f@example.com"]["last_name"] == "+cmd|' /C calc'!A0"
    assert got["f@example.com"]["company"] == "@SUM(1+1)"
    assert got["h@example.com"]["first_name"] == "<script>alert(1)</script>"
    assert got["h@example.com"]["company"] == "Tom & Jerry <Ltd>"


def test_unreadable_files_fail_with_a_reason_and_do_not_hold_up_others(engine, inbox: Path, config_dir: Path):
    (inbox / "a-empty.csv").write_bytes(b"")
    (inbox / "b-binary.csv").write_bytes(bytes(range(256)) * 64)
    (inbox / "c-header-only.csv").write_text("Email,First Name\n", encoding="utf-8")
    (inbox / "d-good.csv").write_text("Email\ngood@example.com\n", encoding="utf-8")
    reports = {r.name: r for r in run_inbox(engine, inbox, config_dir)}
    assert reports["a-empty.csv"].status == "failed" and "empty file" in reports["a-empty.csv"].reason
    assert reports["b-binary.csv"].status == "failed" and "binary" in reports["b-binary.csv"].reason
    assert (
        reports["c-header-only.csv"].status == "ingested" and reports["c-header-only.csv"].counts.rows_in == 0
    )
    assert reports["d-good.csv"].counts.inserted == 1
    failed = sorted(p.name for p in (inbox / "failed").iterdir())
    assert len([n for n in failed if not n.endswith(".receipt.json")]) == 2
    receipt = json.loads(next((inbox / "failed").glob("*a-empty.csv.receipt.json")).read_text())
    assert receipt["status"] == "failed" and receipt["reason"].startswith("empty file")
    assert rows(engine, "select status from ingest_files where file_name = 'b-binary.csv'") == [
        {"status": "failed"}
    ]


@pytest.mark.parametrize(
    ("encoding", "delimiter", "header"),
    [
        ("utf-16", "\t", "E-Mail\tVorname\tFirma\tLand"),
        ("cp1252", ";", "E-Mail;Vorname;Firma;Land"),
        ("utf-8-sig", ",", "Courriel,Prénom,Société,Pays"),
    ],
)
def test_encodings_delimiters_and_german_french_headers(
    engine, inbox: Path, config_dir: Path, encoding, delimiter, header
):
    row = delimiter.join(["jürgen@example.de", "Jürgen", "Müller & Söhne", "Österreich"])
    (inbox / "export.txt").write_bytes((header + "\r\n" + row + "\r\n").encode(encoding))
    [report] = run_inbox(engine, inbox, config_dir)
    assert report.counts.inserted == 1, report
    [lead] = rows(engine, "select first_name, company, country from leads")
    assert lead == {"first_name": "Jürgen", "company": "Müller & Söhne", "country": "AT"}


def test_xlsx_with_formula_cells(engine, inbox: Path, config_dir: Path):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Email", "First Name", "Company", "Phone"])
    sheet.append(["x@example.com", '=HYPERLINK("http://evil.example")', "=1+1", 4930123456])
    book.save(inbox / "tradeshow-leads.xlsx")
    [report] = run_inbox(engine, inbox, config_dir)
    assert report.counts.inserted == 1
    [lead] = rows(engine, "select first_name, company, phone from leads")
    assert lead == {
        "first_name": '=HYPERLINK("http://evil.example")',
        "company": "=1+1",
        "phone": "4930123456",
    }
    # the trade-show entry's legal basis applies when no consent column is mapped
    assert rows(engine, "select status, legal_basis, source from consents") == [
        {"status": "granted", "legal_basis": "legitimate_interest", "source": "tradeshow"}
    ]


def test_a_claimed_file_is_not_taken_twice(engine):
    from funnelflow.db.schema import utcnow
    from funnelflow.ingest.files import claim

    first, _ = claim(engine, "h" * 64, "a.csv", "list-upload", utcnow())
    second, existing = claim(engine, "h" * 64, "a-copy.csv", "list-upload", utcnow())
    assert first and second is None and existing["status"] == "claimed"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_50_mb_file_streams_through_in_chunks(engine, inbox: Path, config_dir: Path):
    # Wide rows (a long notes column) make 50 MB quickly without a million inserts.
    notes = "n" * 2000
    lines = ["Email,First Name,Company,Notes"]
    lines += [f"p{i}@example.com,P{i},Co {i % 50},{notes}" for i in range(25_000)]
    path = inbox / "big-list.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert path.stat().st_size > 50_000_000
    [report] = run_inbox(engine, inbox, config_dir, chunk_rows=5000)
    assert report.counts.as_dict() == {
        "rows_in": 25_000,
        "inserted": 25_000,
        "updated": 0,
        "rejected": 0,
        "duplicates": 0,
    }
    assert count(engine, "touchpoints") == 25_000


def test_a_failing_file_is_reported_without_addresses_and_others_still_land(
    engine, inbox: Path, config_dir: Path, monkeypatch, caplog
):
    import funnelflow.ingest.files as files

    (inbox / "a_bad.csv").write_text("email\nbroken@example.com\n")
    (inbox / "b_good.csv").write_text("email\ngood@example.com\n")
    real = files.ingest_file

    def failing(engine_, inbox_, name, *args):
        if "a_bad" in name:
            # What PostgreSQL's unique violation looks like: it quotes the key it failed on.
            raise RuntimeError(
                "duplicate key value; DETAIL: Key (email_key)=(broken@example.com) already exists."
            )
        return real(engine_, inbox_, name, *args)

    monkeypatch.setattr(files, "ingest_file", failing)
    with pytest.raises(files.InboxError) as err:
        run_inbox(engine, inbox, config_dir)
    assert "broken@example.com" not in str(err.value) and "[address]" in str(err.value)
    assert "broken@example.com" not in caplog.text
    assert count(engine, "leads") == 1  # the good file landed all the same


@pytest.mark.parametrize("chunk_rows", [1000, 1])
def test_one_person_under_two_match_keys_counts_one_insert(
    engine, inbox: Path, config_dir: Path, chunk_rows: int
):
    # Row 2 has no email: it is matched by phone to the lead row 1 creates, in the same chunk or the next.
    (inbox / "list.csv").write_text(
        "Email,Phone,Country\nann@example.com,+49 30 1111111,DE\n,030 1111111,DE\n"
    )
    [report] = run_inbox(engine, inbox, config_dir, chunk_rows=chunk_rows)
    assert report.counts.as_dict() == {
        "rows_in": 2,
        "inserted": 1,
        "updated": 1,
        "rejected": 0,
        "duplicates": 0,
    }
    [lead] = rows(engine, "select id from leads")
    assert [t["lead_id"] for t in rows(engine, "select lead_id from touchpoints order by id")] == [
        lead["id"]
    ] * 2


def test_a_row_naming_an_erased_person_is_set_aside_with_its_raw_row(engine, inbox: Path, config_dir: Path):
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into leads (email_key, lifecycle_stage, erased_at, created_at, updated_at) "
                "values ('gone@example.com', 'lead', :t, :t, :t)"
            ),
            {"t": AS_OF},
        )
    (inbox / "list.csv").write_text("Email,First Name\nnew@example.com,New\nGone@example.com,Gone\n")
    [report] = run_inbox(engine, inbox, config_dir)
    assert report.counts.as_dict() == {
        "rows_in": 2,
        "inserted": 1,
        "updated": 0,
        "rejected": 1,
        "duplicates": 0,
    }
    [reject] = rows(engine, "select line_number, reason, raw from ingest_rejects")
    raw = reject["raw"] if isinstance(reject["raw"], dict) else json.loads(reject["raw"])
    assert (reject["line_number"], raw) == (3, {"Email": "Gone@example.com", "First Name": "Gone"})
    assert "matches no single lead" in reject["reason"]
    assert count(engine, "touchpoints") == 1  # nothing attached to the erased lead


def test_a_worker_that_dies_leaves_the_file_in_the_inbox_and_writes_nothing(
    engine, inbox: Path, config_dir: Path, monkeypatch
):
    import sys

    import funnelflow.ingest.files as files

    (inbox / "list.csv").write_text("email\nann@example.com\n")
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the worker process exits at once, saying nothing
    with pytest.raises(files.InboxError, match="worker exited with code 1"):
        run_inbox(engine, inbox, config_dir)
    assert (inbox / "list.csv").exists()
    assert count(engine, "leads") == 0
    # The claim is released for the retry, its attempt counted and its reason kept.
    [claim] = rows(engine, "select status, attempts, reason, finished_at from ingest_files")
    assert (claim["status"], claim["attempts"]) == ("claimed", 1)
    assert "worker exited with code 1" in claim["reason"] and claim["finished_at"] is not None


def test_a_database_error_mid_file_rolls_back_the_whole_file_and_keeps_it(
    engine, inbox: Path, config_dir: Path, monkeypatch
):
    import funnelflow.ingest.files as files

    (inbox / "list.csv").write_text("email\na@example.com\nb@example.com\nc@example.com\n")
    real, calls = files.apply_batch, []

    def failing_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("connection lost")
        return real(*args, **kwargs)

    monkeypatch.setattr(files, "apply_batch", failing_second)
    with pytest.raises(files.InboxError, match="connection lost"):
        run_inbox(engine, inbox, config_dir, chunk_rows=1)
    assert (count(engine, "leads"), count(engine, "touchpoints")) == (0, 0)
    assert rows(engine, "select status, attempts from ingest_files") == [{"status": "claimed", "attempts": 1}]
    assert (inbox / "list.csv").exists()
    monkeypatch.setattr(files, "apply_batch", real)
    [report] = run_inbox(engine, inbox, config_dir, chunk_rows=1)  # the retry takes the whole file
    assert report.counts.inserted == 3 and count(engine, "touchpoints") == 3
    assert rows(engine, "select status, attempts from ingest_files") == [
        {"status": "ingested", "attempts": 2}
    ]
