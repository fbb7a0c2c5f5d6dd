"""An attendee report into the marketing database: new people become leads, then attendance is marked.

Attendees who are not leads yet arrive through the ingestion stage like any file row
(normalized, deduplicated, with the consent basis the file's entry in
``config/sources.yaml`` gives), with a ``webinar_attended`` or ``webinar_no_show``
touch; everyone is then marked by ``registrations.record_attendance``. Rows the report
could not use are set aside in ``ingest_rejects`` with their line and reason.
Importing the same report again changes nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from funnelflow.db.schema import ingest_rejects
from funnelflow.ingest.config import FileSource
from funnelflow.ingest.normalize import normalize_frame
from funnelflow.ingest.stage import Arrival
from funnelflow.ingest.store import write_arrivals, write_rejects
from funnelflow.webinars import registrations
from funnelflow.webinars.attendance import AttendeeReport, parse_report
from funnelflow.webinars.config import Webinar


@dataclass
class AttendanceImport:
    platform: str
    rows: int
    attendees: int
    new_leads: int
    attended: int
    no_show: int
    rejected: int
    rejoins: int = 0
    not_attendees: int = 0
    known: int = 0  # attendees who were leads already
    parser_rejects: int = (
        0  # rows the report itself could not give (the rest of rejected: new people refused)
    )


def import_report(
    engine: Engine,
    webinar: Webinar,
    data: bytes,
    file_name: str,
    source: FileSource | None,
    as_of: datetime,
) -> AttendanceImport:
    """An attendee report file (Zoom, GoToWebinar, Teams)."""
    report = parse_report(data, webinar.zone)
    return import_attendees(
        engine, webinar, report, file_name, hashlib.sha256(data).hexdigest()[:16], source, as_of
    )


def import_attendees(
    engine: Engine,
    webinar: Webinar,
    report: AttendeeReport,
    file_name: str,
    file_ref: str,
    source: FileSource | None,
    as_of: datetime,
) -> AttendanceImport:
    """Attendees from a file or the platform's API; ``file_ref`` names this report's content."""
    source_name = source.name if source else "webinar-attendance"
    with engine.begin() as conn:
        known = registrations.lead_ids_by_email_key(conn, [a.email_key for a in report.attendees])
        new = [a for a in report.attendees if a.email_key not in known]
        rejects = [(line, reason, raw) for line, reason, raw in report.rejects]
        rejects += _land_new_people(conn, webinar, new, source, source_name, file_ref, as_of)
        # The report's content names its rejects, so importing it again sets nothing aside twice.
        source_file = f"{file_name}#{file_ref}"
        seen = conn.execute(
            sa.select(ingest_rejects.c.id).where(ingest_rejects.c.source_file == source_file).limit(1)
        ).first()
        if rejects and not seen:
            write_rejects(conn, source_name, source_file, rejects, as_of)
    with engine.connect() as conn:
        lead_ids = registrations.lead_ids_by_email_key(conn, [a.email_key for a in report.attendees])
    minutes = {
        lead_ids[a.email_key]: (round(a.minutes), a.first_joined_at or webinar.starts_at)
        for a in report.attendees
        if a.email_key in lead_ids
    }
    marked = registrations.record_attendance(
        engine, webinar.slug, minutes, webinar.spec.attended_min_minutes, as_of
    )
    return AttendanceImport(
        platform=report.platform,
        rows=report.rows,
        attendees=len(report.attendees),
        new_leads=sum(1 for a in new if a.email_key in lead_ids),
        attended=marked.attended,
        no_show=marked.no_show,
        rejected=len(rejects),
        rejoins=report.rejoins,
        not_attendees=report.not_attendees,
        known=len(report.attendees) - len(new),
        parser_rejects=len(report.rejects),
    )


def _land_new_people(conn, webinar: Webinar, people: list, source, source_name: str, file_ref: str, as_of):
    """Write attendees who are not leads through the ingestion stage; returns rows it had to reject."""
    rejects: list[tuple[int | None, str, dict]] = []
    for attended in (True, False):
        group = [a for a in people if (a.minutes >= webinar.spec.attended_min_minutes) == attended]
        if not group:
            continue
        frame = pd.DataFrame(
            [
                {
                    "email": a.email,
                    "first_name": a.first_name,
                    "last_name": a.last_name,
                    "occurred_at": (a.first_joined_at or webinar.starts_at).isoformat(),
                }
                for a in group
            ],
            dtype=object,
        )
        norm, reason = normalize_frame(frame, as_of=as_of)
        touch_type = "webinar_attended" if attended else "webinar_no_show"
        norm["source_ref"] = [
            f"webinar:{webinar.slug}:{touch_type}:file:{file_ref}:{a.lines[0]}" for a in group
        ]
        norm["detail"] = [f'{{"minutes": {round(a.minutes)}}}' for a in group]
        norm["original_source"] = norm["original_source"].fillna(source_name).str.slice(0, 60)
        bad = reason != ""
        for i in norm.index[bad]:
            a = group[i]
            raw = {
                "email": a.email,
                "first_name": a.first_name,
                "last_name": a.last_name,
                "minutes": a.minutes,
            }
            rejects.append((a.lines[0], reason[i], raw))
        consent = source.consent if source else None
        arrival = Arrival(
            source=source_name,
            channel="webinar",
            touch_type=touch_type,
            campaign=webinar.slug,
            consent_status=consent.status if consent else None,
            legal_basis=consent.legal_basis if consent else None,
        )
        write_arrivals(conn, norm[~bad], arrival, as_of)
    return rejects
