"""The demo data set: files in the inbox and web-form posts in lead_landing, twice identically."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from openpyxl import load_workbook

from funnelflow.db.schema import lead_landing
from funnelflow.synth.demo import DEMO_FILES, FORM_FIELDS, write_demo
from funnelflow.synth.files import HEADER_STYLES
from funnelflow.web import leads as public_form

UNTIL = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _landing(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(lead_landing).order_by(lead_landing.c.id)).mappings().all()
    return [(r["source"], r["received_at"], r["payload"], r["content_hash"], r["client_ip"]) for r in rows]


def test_demo_twice_gives_identical_files_and_rows(engine, tmp_path):
    first = write_demo(engine, seed=42, until=UNTIL, people=600, inbox=tmp_path / "a" / "inbox" / "leads")
    rows_after_first = _landing(engine)
    second = write_demo(engine, seed=42, until=UNTIL, people=600, inbox=tmp_path / "b" / "inbox" / "leads")
    assert [p.name for p, _ in first.files] == [f.name for f in DEMO_FILES]
    for (a, _), (b, _) in zip(first.files, second.files, strict=True):
        assert a.read_bytes() == b.read_bytes()
    assert first.landing == len(rows_after_first) > 50
    assert second.landing == 0  # a rerun adds no landing row twice
    assert _landing(engine) == rows_after_first
    assert first.landing_rows == second.landing_rows
    other = write_demo(engine, seed=43, until=UNTIL, people=600, inbox=tmp_path / "c" / "inbox" / "leads")
    assert other.files[0][0].read_bytes() != first.files[0][0].read_bytes()


def test_landing_rows_are_what_the_public_app_writes(engine, tmp_path):
    write_demo(engine, seed=7, until=UNTIL, people=400, inbox=tmp_path / "inbox" / "leads")
    rows = _landing(engine)
    assert FORM_FIELDS == public_form.FORM_FIELDS
    for source, received_at, payload, content_hash, client_ip in rows:
        assert source == "web_form"
        assert received_at < UNTIL
        assert set(payload) == set(FORM_FIELDS)
        assert isinstance(payload["consent"], bool)
        assert payload["email"] and payload["email"].count("@") == 1
        assert payload["page_url"].startswith("https://www.example.com/")
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
        assert (
            content_hash
            == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
            == public_form.content_hash(payload)
        )
        assert client_ip.startswith(("192.0.2.", "198.51.100.", "203.0.113."))
        public_form.LeadForm.model_validate(payload)  # the app would accept it as it is


def test_demo_files_decode_with_their_encodings(engine, tmp_path):
    result = write_demo(engine, seed=42, until=UNTIL, people=600, inbox=tmp_path / "inbox" / "leads")
    for (path, rows), spec in zip(result.files, DEMO_FILES, strict=True):
        header = HEADER_STYLES[spec.header_style].header
        if spec.fmt == "xlsx":
            got = list(load_workbook(path, read_only=True).active.iter_rows(values_only=True))
            assert list(got[0]) == header and len(got) == rows + 1
            continue
        data = path.read_bytes()
        if spec.encoding == "utf-8-sig":
            assert data.startswith(b"\xef\xbb\xbf")
        if spec.encoding == "utf-16":
            assert data[:2] in (b"\xff\xfe", b"\xfe\xff")
        text = data.decode(spec.encoding).lstrip("\ufeff")
        delimiter = {"tab": "\t"}.get(spec.delimiter, spec.delimiter)
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        assert records[0] == header
        assert len(records) == rows + 1


def test_demo_conf_names_the_first_hubspot_contact():
    # make demo's forget_person run names "the first contact of the HubSpot export (seed 42)" by hash;
    # a change to the generator that moves that person must update DEMO_CONF too.
    from funnelflow.identity import email_hash
    from funnelflow.synth.demo import demo_frames
    from funnelflow_airflow.demo import DEMO_CONF, DEMO_LOGICAL_DATE, DEMO_SEED

    files, _forms = demo_frames(seed=int(DEMO_SEED), until=datetime.fromisoformat(DEMO_LOGICAL_DATE))
    assert DEMO_FILES[0].header_style == "hubspot"
    assert json.loads(DEMO_CONF["forget_person"])["person"] == email_hash(files[0]["email"].iloc[0])


def _reads(env: dict[str, str]) -> datetime:
    """What funnelflow.clock reads in a step started with ``env`` (at the moment of the call)."""
    from datetime import timedelta

    from funnelflow import clock

    return datetime.now(UTC) + timedelta(seconds=float(env[clock.OFFSET_ENV]))


def test_the_demo_clock_runs_each_step_at_its_date_never_before_an_earlier_step_of_that_date():
    from datetime import timedelta

    from funnelflow_airflow.demo import DemoClock, step_time

    day = datetime(2026, 11, 23, 12, tzinfo=UTC)
    later = day + timedelta(days=7)
    assert step_time(["py", "-m", "airflow", "dags", "test", "webinars", later.isoformat()]) == later
    assert step_time(["py", "-m", "funnelflow", "status", "--as-of", day.isoformat()]) == day
    assert step_time(["py", "-m", "funnelflow", "webinars", "status", "x"]) is None

    demo = DemoClock(day)
    slack = timedelta(seconds=5)
    with demo.step({}, day) as env:
        assert day <= _reads(env) < day + slack
    demo.reached[-1] = (day, day + timedelta(minutes=3))  # as if that step had run three minutes
    with demo.step({"KEEP": "1"}, day) as env:  # the next step of that date starts where it ended
        assert env["KEEP"] == "1"
        assert day + timedelta(minutes=3) <= _reads(env) < day + timedelta(minutes=3) + slack
    with demo.step({}, later) as env:  # a later date: its own
        assert later <= _reads(env) < later + slack
    with demo.step({}, day) as env:  # back to the demo's day: after what that day's steps did
        assert day + timedelta(minutes=3) <= _reads(env) < day + timedelta(minutes=3) + slack
    with demo.step({}, None) as env:  # no date: on from the last step
        assert day + timedelta(minutes=3) <= _reads(env) < day + timedelta(minutes=3) + slack
