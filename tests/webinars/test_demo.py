"""make demo's webinar guests: invited leads register by one click, a new person by the form, at the demo's
time; their attendee report marks who attended and who did not."""

from __future__ import annotations

import sqlalchemy as sa

from funnelflow.db.schema import leads, touchpoints, webinar_registrations
from funnelflow.identity import email_key
from funnelflow.ingest.config import load_sources
from funnelflow.webinars import registrations as regs
from funnelflow.webinars.attendance_import import import_report
from funnelflow.webinars.demo import FORM_GUEST, attendee_report, register_guests
from tests.factories import add_send
from tests.webinars.factories import AFTER, AT, synced_webinar


def _invited(engine, tmp_path):
    webinar = synced_webinar(engine, tmp_path)
    with engine.begin() as conn:
        ids = []
        for e in ("c@example.org", "a@example.org", "b@example.org"):
            lead = conn.execute(
                leads.insert()
                .values(email=e, email_key=email_key(e), created_at=AT, updated_at=AT)
                .returning(leads.c.id)
            ).scalar_one()
            add_send(conn, lead, e, key=f"{regs.invitation_key_prefix('rp')}1:{lead}")
            ids.append(lead)
    return webinar, ids


def _registrations(engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(webinar_registrations.c.lead_id, webinar_registrations.c.status))
        return dict(rows.all())


def test_guests_register_once_and_their_report_marks_attended_and_no_show(engine, tmp_path):
    webinar, ids = _invited(engine, tmp_path)
    guests = register_guests(engine, webinar, AT)
    assert guests.one_click == [(ids[0], "registered"), (ids[1], "registered")]  # the first two by id
    assert guests.form == "registered"
    with engine.connect() as conn:
        form_guest = conn.execute(
            sa.select(leads.c.id).where(leads.c.email_key == email_key(FORM_GUEST["email"]))
        ).scalar_one()
        sources = conn.execute(
            sa.select(touchpoints.c.touch_type).where(touchpoints.c.lead_id == form_guest)
        ).scalars()
        assert "webinar_registered" in set(sources)
    first = _registrations(engine)
    assert set(first) == {ids[0], ids[1], form_guest}

    again = register_guests(engine, webinar, AT)  # the demo run twice
    assert _registrations(engine) == first and again.form == "registered"

    report = attendee_report(engine, webinar, guests)
    source = load_sources().file_source_for("zoom-webinar-report.csv")
    result = import_report(engine, webinar, report, "zoom-webinar-report.csv", source, AFTER)
    assert (result.platform, result.attended, result.new_leads, result.rejected) == ("zoom", 1, 0, 0)
    assert _registrations(engine) == {ids[0]: "no_show", ids[1]: "no_show", form_guest: "attended"}
