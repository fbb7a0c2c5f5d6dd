"""The weekly report: numbers for people, files a browser opens, one email per stakeholder and week."""

from __future__ import annotations

import csv
import email
import email.policy
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.cli import main
from funnelflow.db.schema import email_sends, funnel_weekly, metrics_weeks
from funnelflow.metrics import format as fmt
from funnelflow.metrics.compute import COMPUTED_TABLES
from funnelflow.metrics.config import load_reports_config
from funnelflow.metrics.report import build_report, message_key, save_report, send_report
from funnelflow.yaml_config import ConfigFileError
from tests.metrics.helpers import WEEK, add_lead, add_stage, add_touch, at, compute
from tests.metrics.test_sales_webinars import _sales_fixture

STAKEHOLDERS = ["a@example.org", "b@example.org", "c@example.org"]


def test_numbers_are_formatted_for_people():
    assert fmt.count(1234567) == "1,234,567"
    assert fmt.count(2.25) == "2.2" and fmt.count(3.0) == "3"
    assert fmt.percent(fmt.ratio(1, 3)) == "33.3%"
    assert fmt.percent(fmt.ratio(5, 0)) == "no data"
    assert fmt.change(12, 10) == "+2 (+20.0%)"
    assert fmt.change(3, 0) == "+3 (no data)"
    assert fmt.change(None, 4) == "no data"
    assert fmt.money(None) == "no data" and fmt.money(1234.5) == "1,234.50"
    assert fmt.change(1500.25, 1000, as_money=True) == "+500.25 (+50.0%)"
    assert fmt.hours(None) == "no data" and fmt.hours(2.75) == "2.8 h"
    assert fmt.credit(0.35) == "0.35" and fmt.credit(1234.5) == "1,234.50"


def _funnel(engine):
    with engine.begin() as conn:
        for lead_id in (1, 2, 3):
            add_lead(conn, lead_id)
        add_touch(conn, 1, at(16), "web_form", campaign="spring")
        add_touch(conn, 2, at(17), "ad_form")
        add_touch(conn, 3, at(9), "webinar", touch_type="webinar_attended")
        add_stage(conn, 1, "mql", at(17))
        add_stage(conn, 1, "sql", at(18))
        add_stage(conn, 3, "mql", at(10))
        add_stage(conn, 3, "sql", at(19))


def test_report_files_open_in_a_browser_and_the_eml_carries_charts_and_csvs(engine, funnelflow_home):
    _funnel(engine)
    week = compute(engine)
    report = build_report(engine, week)
    folder = save_report(report, STAKEHOLDERS)
    assert folder == funnelflow_home / "reports" / "2026-W47"
    html = (folder / "report.html").read_text()
    assert "cid:" not in html
    for name in ("funnel", "trend", "channels", "attribution"):
        assert f'src="{name}.png"' in html
        assert (folder / f"{name}.png").read_bytes().startswith(b"\x89PNG")
    for section in ("Webinars", "Sales SLA", "Why sales rejected handoffs", "Retention"):
        assert f">{section}</h2>" in html
    assert "No webinar was held this week." in html  # said, not shown as a table of zeros
    # The CSV holds exactly the stored rows.
    with engine.connect() as conn:
        stored = conn.execute(sa.select(funnel_weekly).where(funnel_weekly.c.week_start == week.start)).all()
    table = list(csv.DictReader(io.StringIO((folder / "funnel_weekly.csv").read_text())))
    assert len(table) == len(stored) and {r["accepted"] for r in table} == {"0"}
    assert {(r["dimension"], r["value"], r["sql"]) for r in table} == {
        (r.dimension, r.value, str(r.sql)) for r in stored
    }
    msg = email.message_from_bytes((folder / "report.eml").read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Weekly funnel 2026-W47: 2 new leads, 2 SQLs"
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert sorted(p["Content-ID"] for p in images) == ["<attribution>", "<channels>", "<funnel>", "<trend>"]
    related_html = msg.get_body(("html",)).get_content()
    assert 'src="cid:funnel"' in related_html
    assert sorted(p.get_filename() for p in msg.iter_attachments() if p.get_content_type() == "text/csv") == [
        "attribution_weekly.csv",
        "email_weekly.csv",
        "funnel_cohorts.csv",
        "funnel_velocity.csv",
        "funnel_weekly.csv",
        "retention_weekly.csv",
        "sla_rejections_weekly.csv",
        "sla_weekly.csv",
        "webinar_weekly.csv",
    ]


def test_attribution_by_channel_sums_its_campaigns(engine, funnelflow_home):
    with engine.begin() as conn:
        for lead_id, campaign in ((1, "spring"), (2, "autumn"), (3, None)):
            add_lead(conn, lead_id)
            add_touch(conn, lead_id, at(16), "web_form", campaign=campaign)
            add_stage(conn, lead_id, "sql", at(18))
    report = build_report(engine, compute(engine))
    assert report.context["attribution_sql"] == [{"channel": "web_form", "credits": ["3.00"] * 5}]


def test_sales_and_retention_in_the_report(engine, funnelflow_home):
    with engine.begin() as conn:
        _sales_fixture(conn)
    report = build_report(engine, compute(engine))
    c = report.context
    assert c["rejections"][0] == {"reason": "Not a fit", "total": "2", "by_channel": "(none) 1, web_form 1"}
    assert c["retention"] == {"due": "2", "won": "2", "rate": "100.0%", "upsell": "200.00"}
    won = next(k for k in c["key_numbers"] if k["label"] == "Won revenue")
    assert (won["this"], won["last"]) == ("1,550.50", "no data")  # last week was never computed
    assert "- Handoffs rejected: 3 / no data / no data /" in report.email.text


def test_an_empty_week_says_no_data_rather_than_dividing_by_zero(engine, funnelflow_home):
    week = compute(engine)
    report = build_report(engine, week)
    assert "no data" in report.email.text
    assert report.context["retention"]["rate"] == "no data"  # nothing due: not 0%, not a division by zero
    assert report.context["sla_compliance"] == "no data"
    assert "Weeks not computed" in report.email.html  # the 11 weeks before were never computed
    assert report.context["headline"] == "0 new leads, 0 SQLs"


def test_sent_once_per_week_through_the_ledger_even_when_retried(engine, standin, sendgrid, options):
    _funnel(engine)
    week = compute(engine)
    report = build_report(engine, week)
    first = send_report(engine, report, STAKEHOLDERS, sendgrid, as_of=week.ends_at)
    assert (first.sent, first.requests) == (3, 1)
    [request] = standin.sent  # validated against SendGrid's schema by the stand-in
    assert sorted(standin.recipients()) == STAKEHOLDERS
    files = [a for a in request.body["attachments"] if a["disposition"] == "attachment"]
    assert sorted(a["filename"] for a in files) == sorted(f"{t.name}.csv" for t in COMPUTED_TABLES)
    assert {a["type"] for a in files} == {"text/csv"}  # one CSV per result table
    images = [a["type"] for a in request.body["attachments"] if a["disposition"] == "inline"]
    assert images == ["image/png"] * 4
    again = send_report(engine, build_report(engine, week), STAKEHOLDERS, sendgrid, as_of=week.ends_at)
    assert (again.sent, again.already_handled) == (0, 3)
    assert len(standin.sent) == 1
    with engine.connect() as conn:
        keys = conn.execute(
            sa.select(email_sends.c.message_key, email_sends.c.kind, email_sends.c.status)
        ).all()
    assert sorted(keys) == [(message_key(week), "transactional", "sent")] * 3


def test_reports_yaml_errors_name_the_file_line_and_fix(tmp_path):
    bad = tmp_path / "reports.yaml"
    bad.write_text(
        'version: "1"\nweekly_funnel_report:\n  stakeholders:\n    - name: Sales\n      email: nobody\n'
    )
    with pytest.raises(ConfigFileError, match=r"reports.yaml, line 5: .*email.*fix:"):
        load_reports_config(bad)
    bad.write_text('version: "1"\nweekly_funnel_report:\n  stakeholders: []\n')
    with pytest.raises(
        ConfigFileError, match=r"line 3: weekly_funnel_report.stakeholders.*fix: add at least one"
    ):
        load_reports_config(bad)
    shipped = load_reports_config()
    assert shipped.weekly_funnel_report.stakeholders


def test_cli_weekly_sends_once_and_backfill_computes_each_week(
    engine, marketing_db_env, funnelflow_home, monkeypatch, capsys
):
    monkeypatch.setenv("FUNNELFLOW_EMAIL_TRANSPORT", "outbox")
    _funnel(engine)
    assert main(["report", "weekly", "--week", WEEK, "--send"]) == 0
    out = capsys.readouterr().out
    assert f"report: {funnelflow_home / 'reports' / WEEK / 'report.html'}" in out
    stakeholders = len(load_reports_config().weekly_funnel_report.stakeholders)
    assert len(list((funnelflow_home / "outbox").glob("*.eml"))) == stakeholders
    assert main(["report", "weekly", "--week", WEEK, "--send"]) == 0
    assert f'"already_handled": {stakeholders}' in capsys.readouterr().out
    assert len(list((funnelflow_home / "outbox").glob("*.eml"))) == stakeholders
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(metrics_weeks)).scalar_one() == 12
        )  # trend weeks
    assert main(["report", "backfill", "--from", "2026-W50", "--to", "2026-W52"]) == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(metrics_weeks)).scalar_one() == 15
    assert main(["report", "weekly", "--week", "2026-47"]) == 2
    assert "must look like 2026-W48" in capsys.readouterr().err


def test_the_report_template_exists_in_all_three_parts():
    root = Path(__file__).resolve().parents[2] / "templates" / "email"
    for part in ("subject.txt", "html", "txt"):
        assert (root / f"weekly_funnel_report.{part}").is_file()
