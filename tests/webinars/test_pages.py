"""The public webinar pages: registration form, one-click invitation, cancellation; GETs change nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from funnelflow.db.schema import consents, lead_landing, leads, touchpoints, webinar_registrations
from funnelflow.identity import email_key
from funnelflow.web.app import create_standalone_app
from funnelflow.webinars import registrations as regs
from funnelflow.webinars.config import load_webinar
from funnelflow.webinars.tokens import cancel_token, invitation_token

REPO = Path(__file__).resolve().parents[2]
FILE = """title: Planning your retirement
starts_at: "{starts}"
timezone: Europe/Berlin
duration_minutes: 60
join_url: https://zoom.example.com/j/1
capacity: {capacity}
host: Dana
"""


@pytest.fixture
def webinar_config(tmp_path, monkeypatch):
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config, ignore=shutil.ignore_patterns("webinars"))
    (config / "webinars").mkdir()
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(config))
    monkeypatch.setenv("FUNNELFLOW_SECRET_KEY", "pages-test-key")

    def write(capacity: int = 1, starts: datetime | None = None):
        starts = starts or datetime.now(UTC) + timedelta(days=7)
        local = starts.astimezone(__import__("zoneinfo").ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
        path = config / "webinars" / "rp.yaml"
        path.write_text(FILE.format(starts=local.strftime("%Y-%m-%dT%H:%M:%S"), capacity=capacity))
        return load_webinar(path)

    return write


@pytest.fixture
def client(engine):
    return TestClient(create_standalone_app(engine), client=("203.0.113.9", 50000))


def _count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


class _Page:
    """A response whose text is read as a person reads it (HTML entities decoded)."""

    def __init__(self, response):
        import html

        self.status_code = response.status_code
        self.text = html.unescape(response.text)


def _post(client, data: dict) -> _Page:
    return _Page(client.post("/funnelflow/webinars/rp/register", data=data))


def test_the_form_registers_a_new_person_through_the_lead_landing_path(client, engine, webinar_config):
    regs.sync_webinars(engine, [webinar_config(capacity=1)], datetime.now(UTC))
    page = client.get("/funnelflow/webinars/rp/register")
    assert (
        page.status_code == 200 and "Planning your retirement" in page.text and 'name="website"' in page.text
    )
    assert _count(engine, lead_landing) == 0  # the GET stored nothing
    first = _post(client, {"email": "Ada@Example.org", "first_name": "Ada", "consent": "on"})
    assert first.status_code == 200 and "You're registered" in first.text
    assert "ada@example.org" not in first.text.lower()
    second = _post(client, {"email": "bo@example.org", "first_name": "Bo"})
    assert "waiting list" in second.text
    again = _post(client, {"email": "ada@example.org"})
    assert "You're registered" in again.text
    with engine.connect() as conn:
        ada = conn.execute(
            sa.select(leads.c.id).where(leads.c.email_key == email_key("ada@example.org"))
        ).scalar_one()
        consent = conn.execute(
            sa.select(consents.c.status, consents.c.wording_version).where(consents.c.lead_id == ada)
        ).all()
        statuses = (
            conn.execute(sa.select(webinar_registrations.c.status).order_by(webinar_registrations.c.id))
            .scalars()
            .all()
        )
    assert consent == [("pending", "2026-01")]  # double opt-in, as the lead form
    assert statuses == ["registered", "waitlisted"]
    assert (
        _count(
            engine,
            touchpoints,
            touchpoints.c.touch_type == "webinar_registered",
            touchpoints.c.lead_id == ada,
        )
        == 1
    )
    assert _count(engine, lead_landing, lead_landing.c.processed_at.is_(None)) == 0


def test_honeypot_and_bad_input_store_nothing(client, engine, webinar_config):
    regs.sync_webinars(engine, [webinar_config()], datetime.now(UTC))
    bot = _post(client, {"email": "bot@example.org", "website": "http://spam.example"})
    person_like = "You're registered" in bot.text
    assert bot.status_code == 200 and person_like
    nul = _post(client, {"email": "eve@example.org", "first_name": "Eve\x00"})
    assert nul.status_code == 422 and "Please check: first name" in nul.text and "Eve" not in nul.text
    bad = _post(client, {"email": "not-an-address"})
    assert bad.status_code in (422,)
    assert _count(engine, leads) == 0 and _count(engine, webinar_registrations) == 0


def test_one_click_invitation_get_shows_post_registers(client, engine, webinar_config):
    regs.sync_webinars(engine, [webinar_config()], datetime.now(UTC))
    with engine.begin() as conn:
        lead = conn.execute(
            sa.insert(leads).values(email="cy@example.org", email_key="cy@example.org").returning(leads.c.id)
        ).scalar_one()
    token = invitation_token("rp", lead)
    page = client.get(f"/funnelflow/webinars/r/{token}")
    assert page.status_code == 200 and '<form method="post">' in page.text
    assert _count(engine, webinar_registrations) == 0
    done = _Page(client.post(f"/funnelflow/webinars/r/{token}"))
    assert "You're registered" in done.text
    assert _count(engine, webinar_registrations, webinar_registrations.c.lead_id == lead) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # signature
        lambda t: t.replace(".rp.", ".other.", 1),  # another webinar
        lambda t: t.replace(t.split(".")[2], str(int(t.split(".")[2]) + 1), 1),  # another lead
        lambda t: "é" + t,
    ],
)
def test_forged_and_tampered_invitation_tokens_are_refused(client, engine, webinar_config, tamper):
    regs.sync_webinars(engine, [webinar_config()], datetime.now(UTC))
    token = tamper(invitation_token("rp", 1))
    assert client.get(f"/funnelflow/webinars/r/{token}").status_code == 404
    assert client.post(f"/funnelflow/webinars/r/{token}").status_code == 404
    assert _count(engine, webinar_registrations) == 0


def test_cancel_link_frees_the_seat_for_the_waitlist(client, engine, webinar_config):
    regs.sync_webinars(engine, [webinar_config(capacity=1)], datetime.now(UTC))
    _post(client, {"email": "ada@example.org"})
    _post(client, {"email": "bo@example.org"})
    with engine.connect() as conn:
        first = conn.execute(sa.select(sa.func.min(webinar_registrations.c.id))).scalar_one()
    url = f"/funnelflow/webinars/cancel/{cancel_token(first)}"
    assert "Free my seat" in _Page(client.get(url)).text
    with engine.connect() as conn:  # the GET changed nothing
        assert conn.execute(
            sa.select(webinar_registrations.c.status).order_by(webinar_registrations.c.id)
        ).scalars().all() == ["registered", "waitlisted"]
    assert "Your seat is free" in _Page(client.post(url)).text
    with engine.connect() as conn:
        assert conn.execute(
            sa.select(webinar_registrations.c.status).order_by(webinar_registrations.c.id)
        ).scalars().all() == ["cancelled", "registered"]
    assert "Nothing to cancel" in _Page(client.post(url)).text


def test_a_webinar_that_is_over_takes_no_registrations(client, engine, webinar_config):
    past = webinar_config(starts=datetime.now(UTC) - timedelta(days=2))
    regs.sync_webinars(engine, [past], datetime.now(UTC))
    assert client.get("/funnelflow/webinars/rp/register").status_code == 410
    assert _post(client, {"email": "ada@example.org"}).status_code == 410
    assert client.get("/funnelflow/webinars/nope/register").status_code == 404


class _Markup:
    """What a browser without JavaScript and a 375 px screen gets from a page (stdlib parser, no browser)."""

    def __init__(self, html: str) -> None:
        import re
        from html.parser import HTMLParser

        self.viewport: str | None = None
        self.scripts = 0
        self.handlers: list[str] = []  # on* attributes (onclick, ...)
        self.forms: list[dict] = []
        self.unlabelled: list[str] = []
        styles: list[str] = []
        markup = self
        label_depth = 0

        class Reader(HTMLParser):
            def handle_starttag(self, tag, attrs):
                nonlocal label_depth
                a = dict(attrs)
                markup.handlers += [k for k in a if k.startswith("on")]
                styles.append(a.get("style") or "")
                if tag == "meta" and a.get("name") == "viewport":
                    markup.viewport = a.get("content")
                elif tag == "script":
                    markup.scripts += 1
                elif tag == "form":
                    markup.forms.append({"method": a.get("method"), "action": a.get("action"), "fields": []})
                elif tag == "label":
                    label_depth += 1
                elif tag in ("input", "button") and markup.forms:
                    markup.forms[-1]["fields"].append((tag, a.get("type"), a.get("name")))
                    if tag == "input" and a.get("type") != "hidden" and not label_depth:
                        markup.unlabelled.append(a.get("name") or "?")

            def handle_endtag(self, tag):
                nonlocal label_depth
                if tag == "label":
                    label_depth -= 1

            def handle_data(self, data):
                styles.append(data if self.lasttag == "style" else "")

        Reader().feed(html)
        css = " ".join(styles)
        # Anything wider than a 375 px phone: a fixed width, min-width or max-width above it.
        self.too_wide = [
            m.group(0)
            for m in re.finditer(r"(?<![-\w])(min-)?width\s*:\s*(\d+)px", css)
            if int(m.group(2)) > 375
        ]


def _check_plain_html_form(html: str, fields: set[str]) -> None:
    page = _Markup(html)
    assert page.viewport == "width=device-width, initial-scale=1"
    assert page.scripts == 0 and page.handlers == []
    assert page.too_wide == []
    [form] = page.forms
    # A plain POST back to the page's own address, with a real submit button: nothing needs JavaScript.
    assert form["method"] == "post" and form["action"] is None
    assert ("button", "submit", None) in form["fields"]
    assert {name for tag, _, name in form["fields"] if tag == "input"} == fields
    assert page.unlabelled == []


def test_registration_and_one_click_pages_work_without_javascript_at_375_px(client, engine, webinar_config):
    regs.sync_webinars(engine, [webinar_config(capacity=1)], datetime.now(UTC))
    register = client.get("/funnelflow/webinars/rp/register")
    _check_plain_html_form(
        register.text, {"email", "first_name", "last_name", "company", "consent", "website"}
    )
    with engine.begin() as conn:
        lead = conn.execute(
            sa.insert(leads).values(email="cy@example.org", email_key="cy@example.org").returning(leads.c.id)
        ).scalar_one()
    one_click = client.get(f"/funnelflow/webinars/r/{invitation_token('rp', lead)}")
    _check_plain_html_form(one_click.text, set())
    # What the form sends without JavaScript (url-encoded fields, the checkbox as "on") registers.
    done = _post(client, {"email": "ada@example.org", "first_name": "Ada", "consent": "on"})
    assert done.status_code == 200 and "You're registered" in done.text
    with engine.connect() as conn:
        consent = conn.execute(sa.select(consents.c.status)).scalars().all()
    assert consent != []


def test_the_markup_check_catches_what_needs_a_script_or_a_wide_screen():
    """The checks above can fail: a script, an onclick, a wide fixed width, a missing viewport."""
    good = '<meta name="viewport" content="width=device-width, initial-scale=1"><form method="post">'
    good += '<label>E <input name="email"></label><button type="submit">Go</button></form>'
    _check_plain_html_form(good, {"email"})
    for bad in (
        good.replace("<form", "<script>x()</script><form"),
        good.replace('<button type="submit"', '<button type="button" onclick="send()"'),
        good.replace("<form", '<div style="width: 600px"></div><form'),
        good.replace('<meta name="viewport" content="width=device-width, initial-scale=1">', ""),
        good.replace('<label>E <input name="email"></label>', '<input name="email">'),
    ):
        with pytest.raises(AssertionError):
            _check_plain_html_form(bad, {"email"})
