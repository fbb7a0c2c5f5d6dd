"""An attendee report into the database: known people marked, new people become leads, reruns add nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from funnelflow.db.schema import consents, ingest_rejects, leads, touchpoints, webinar_registrations
from funnelflow.identity import email_key
from funnelflow.ingest.config import ConsentDefault, FileSource
from funnelflow.webinars import registrations as regs
from funnelflow.webinars.attendance_import import import_report
from tests.webinars.factories import AFTER, AT, synced_webinar

DATA = Path(__file__).parent / "data"
SOURCE = FileSource(
    name="webinar",
    match=["*webinar*"],
    campaign="webinar",
    consent=ConsentDefault(status="granted", legal_basis="legitimate_interest"),
)


def _setup(engine, tmp_path):
    webinar = synced_webinar(engine, tmp_path)
    with engine.begin() as conn:
        ids = [
            conn.execute(
                leads.insert()
                .values(email=e, email_key=email_key(e), created_at=AT, updated_at=AT)
                .returning(leads.c.id)
            ).scalar_one()
            for e in ("ada@example.org", "cy@example.org")
        ]
    for lead in ids:
        regs.register(engine, "rp", lead, "form", AT)
    return webinar, ids


def _snapshot(engine):
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(sa.func.count()).select_from(leads)).scalar_one(),
            sorted(conn.execute(sa.select(touchpoints.c.lead_id, touchpoints.c.touch_type)).all()),
            sorted(
                conn.execute(sa.select(webinar_registrations.c.lead_id, webinar_registrations.c.status)).all()
            ),
            conn.execute(sa.select(sa.func.count()).select_from(ingest_rejects)).scalar_one(),
        )


def test_zoom_report_marks_known_people_and_lands_new_ones(engine, tmp_path):
    webinar, (ada, cy) = _setup(engine, tmp_path)
    data = (DATA / "zoom_attendee_report.csv").read_bytes()
    result = import_report(engine, webinar, data, "zoom-webinar-rp.csv", SOURCE, AFTER)
    assert (result.platform, result.attendees, result.new_leads) == ("zoom", 2, 1)
    assert (result.attended, result.no_show, result.rejected) == (1, 2, 1)  # ada; bo (6 min) and cy (absent)
    with engine.connect() as conn:
        bo = conn.execute(sa.select(leads.c.id).where(leads.c.email_key == "bo@example.org")).scalar_one()
        bo_consent = conn.execute(
            sa.select(consents.c.status, consents.c.legal_basis).where(consents.c.lead_id == bo)
        ).one()
        minutes = dict(
            conn.execute(
                sa.select(webinar_registrations.c.lead_id, webinar_registrations.c.minutes_attended)
            ).all()
        )
        [reject] = conn.execute(sa.select(ingest_rejects.c.line_number, ingest_rejects.c.reason)).all()
    assert bo_consent == ("granted", "legitimate_interest")
    assert minutes == {ada: 44, cy: 0, bo: 6}
    assert reject == (17, "no valid email address in the attendee row")
    count, touches, statuses, _ = _snapshot(engine)
    assert count == 3
    assert [t for t in touches if t[1] != "webinar_registered"] == sorted(
        [(ada, "webinar_attended"), (bo, "webinar_no_show"), (cy, "webinar_no_show")]
    )
    assert statuses == sorted([(ada, "attended"), (bo, "no_show"), (cy, "no_show")])


@pytest.mark.parametrize("report", ["teams_attendance.csv", "zoom_attendee_report.csv"])
def test_importing_the_same_report_again_changes_nothing(engine, tmp_path, report):
    webinar, _ = _setup(engine, tmp_path)
    data = (DATA / report).read_bytes()
    import_report(engine, webinar, data, f"{report}", SOURCE, AFTER)
    before = _snapshot(engine)
    import_report(engine, webinar, data, f"{report}", SOURCE, AFTER)
    assert _snapshot(engine) == before


def test_an_attendee_report_dropped_in_the_lead_inbox_marks_attendance(engine, tmp_path, monkeypatch):
    import fsspec

    from funnelflow.ingest.config import HeaderMappingConfig, SourcesConfig, WebFormSource
    from funnelflow.ingest.files import ingest_inbox

    webinar, (ada, cy) = _setup(engine, tmp_path)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path))
    sources = SourcesConfig(
        web_form=WebFormSource(consent_wording_version="2026-01"),
        files=[SOURCE.model_copy(update={"name": "rp-attendance", "match": ["*zoom*"], "webinar": "rp"})],
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "zoom-report.csv").write_bytes((DATA / "zoom_attendee_report.csv").read_bytes())
    [report] = ingest_inbox(
        engine, fsspec.filesystem("file"), str(inbox), sources, HeaderMappingConfig(), AFTER
    )
    assert report.status == "ingested"
    c = report.counts
    assert (c.rows_in, c.inserted, c.updated, c.rejected, c.duplicates) == (4, 1, 1, 1, 1)
    _, _, statuses, _ = _snapshot(engine)
    assert dict(statuses)[ada] == "attended" and dict(statuses)[cy] == "no_show"
    assert (inbox / "archive").is_dir() and not (inbox / "zoom-report.csv").exists()


def test_a_file_that_is_not_an_attendee_report_goes_to_failed(engine, tmp_path, monkeypatch):
    import fsspec

    from funnelflow.ingest.config import HeaderMappingConfig, SourcesConfig, WebFormSource
    from funnelflow.ingest.files import ingest_inbox

    _setup(engine, tmp_path)
    monkeypatch.setenv("FUNNELFLOW_CONFIG_DIR", str(tmp_path))
    sources = SourcesConfig(
        web_form=WebFormSource(consent_wording_version="2026-01"),
        files=[SOURCE.model_copy(update={"name": "rp-attendance", "match": ["*zoom*"], "webinar": "rp"})],
    )
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "zoom-list.csv").write_text("email,first_name\nada@example.org,Ada\n")
    [report] = ingest_inbox(
        engine, fsspec.filesystem("file"), str(inbox), sources, HeaderMappingConfig(), AFTER
    )
    assert report.status == "failed" and "no attendee table found" in report.reason
    assert (inbox / "failed").is_dir()
