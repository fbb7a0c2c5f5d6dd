"""Preview files and test sends: what a person would get, per variant; test sends reach only
test_recipients."""

from __future__ import annotations

import re

import sqlalchemy as sa

from funnelflow.campaigns import offers
from funnelflow.campaigns.preview import send_to_test_recipients, write_preview
from funnelflow.db.schema import email_sends
from tests.factories import AS_OF, add_person


def test_preview_renders_each_variant_as_the_person_gets_it(engine, newsletter, tmp_path):
    with engine.begin() as conn:
        lead = add_person(conn, "nina@example.com", "Nina")
    files = write_preview(newsletter, tmp_path / "out", engine, lead)
    assert sorted(p.name for p in files) == [
        "test-news.a.html",
        "test-news.a.txt",
        "test-news.b.html",
        "test-news.b.txt",
    ]
    b_text = (tmp_path / "out" / "test-news.b.txt").read_text()
    assert b_text.startswith("Subject: Nina, a personal subject\n")
    html = (tmp_path / "out" / "test-news.a.html").read_text()
    links = re.findall(r'href="([^"]+)"', html)
    assert (
        "https://example.com/news?utm_source=newsletter&amp;utm_medium=email&amp;utm_campaign=test-news"
        in links
    )
    token = offers.make_offer_token("test-news", lead)
    assert any(link.endswith(f"/offers/{token}") for link in links)  # the person's own signed offer link
    assert any("/unsubscribe/" in link for link in links)
    assert 'class="button"' in html and "<style" in html and "nina@example.com" not in html


def test_test_send_reaches_only_the_test_recipients(engine, newsletter, standin, sendgrid, options):
    with engine.begin() as conn:
        add_person(conn, "customer@example.com")
    report = send_to_test_recipients(engine, newsletter, sendgrid, AS_OF, options)
    assert {v: r["sent"] for v, r in report.items()} == {"a": 1, "b": 1}
    assert standin.recipients() == ["team@example.com", "team@example.com"]
    subjects = sorted(
        r.body["subject"].replace(
            "-ff_subject_line_t-", r.body["personalizations"][0]["substitutions"]["-ff_subject_line_t-"]
        )
        for r in standin.sent
    )
    assert subjects == ["[TEST a] Plain subject", "[TEST b] there, a personal subject"]
    with engine.connect() as conn:
        kinds = set(conn.execute(sa.select(email_sends.c.kind, email_sends.c.variant)).all())
    assert kinds == {("transactional", "a"), ("transactional", "b")}
    # Another test send (a later fix to the copy) goes out again: a new key each time.
    send_to_test_recipients(engine, newsletter, sendgrid, AS_OF.replace(minute=5), options)
    assert len(standin.recipients()) == 4
