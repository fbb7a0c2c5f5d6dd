"""What the ``webinars`` DAG does every 15 minutes, one function per step, each over every webinar file.

A step never lets one webinar's trouble stop the others: each webinar's error is
collected (as a type and the webinar's slug, no personal data) and the step raises
``WebinarStepFailed`` at the end, after doing everything it could. Every step is
idempotent: the ledger's message keys and the registration rows make reruns repeat
nothing. ``as_of`` is the run's time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from funnelflow.email.transports import Transport
from funnelflow.webinars import emails, registrations
from funnelflow.webinars.config import Webinar, load_webinars

log = logging.getLogger(__name__)

# The platform's report is complete some minutes after the end; asking earlier gives half a list.
ATTENDANCE_AFTER = timedelta(minutes=30)


class WebinarStepFailed(RuntimeError):
    """One or more webinars failed this step; the others were done."""


def _each(webinars: list[Webinar], step: str, work: Callable[[Webinar], Any]) -> dict[str, Any]:
    done: dict[str, Any] = {}
    failed: dict[str, str] = {}
    for w in webinars:
        try:
            result = work(w)
        except Exception as exc:  # one webinar's trouble must not stop the others
            log.exception("webinar %s: %s failed", w.slug, step)
            failed[w.slug] = type(exc).__name__
            continue
        if result:
            done[w.slug] = result
    if failed:
        raise WebinarStepFailed(f"{step} failed for {failed}; the other webinars were done: {sorted(done)}")
    return done


def sync(engine: sa.Engine, at: datetime) -> dict[str, Any]:
    """Keep the webinars table in step with the files; broken files are reported, the rest synced."""
    good, problems = load_webinars()
    changes = registrations.sync_webinars(engine, good, at)
    return {
        "webinars": len(good),
        "changes": {c.slug: c.change for c in changes if c.change != "unchanged"},
        "problems": problems,
    }


def send_updates(engine: sa.Engine, transport: Transport, as_of: datetime) -> dict[str, Any]:
    webinars, _ = load_webinars()
    return _each(webinars, "updates", lambda w: _as_dict(emails.send_update(engine, transport, w, as_of)))


def send_invitations(engine: sa.Engine, transport: Transport, as_of: datetime) -> dict[str, Any]:
    webinars, _ = load_webinars()
    return _each(webinars, "invitations", lambda w: emails.send_invitations(engine, transport, w, as_of))


def send_confirmations(engine: sa.Engine, transport: Transport, as_of: datetime) -> dict[str, Any]:
    webinars, _ = load_webinars()
    return _each(webinars, "confirmations", lambda w: emails.send_confirmations(engine, transport, w, as_of))


def send_reminders(engine: sa.Engine, transport: Transport, as_of: datetime) -> dict[str, Any]:
    webinars, _ = load_webinars()
    return _each(
        webinars, "reminders", lambda w: _as_dict(emails.send_reminders(engine, transport, w, as_of))
    )


def fetch_attendance(
    engine: sa.Engine, endpoint_for: Callable[[str], Any], as_of: datetime
) -> dict[str, Any]:
    """The platform's participants report for webinars that ended, once, where the file names a platform."""
    from funnelflow.webinars.attendance_import import import_attendees
    from funnelflow.webinars.platform import fetch_participants

    webinars, _ = load_webinars()

    def work(w: Webinar) -> dict[str, Any] | None:
        if w.spec.platform is None or as_of < w.ends_at + ATTENDANCE_AFTER:
            return None
        with engine.connect() as conn:
            if registrations.webinar_row(conn, w.slug)["attendance_loaded_at"] is not None:
                return None
        endpoint = endpoint_for(w.spec.platform.conn_id)
        if endpoint is None:
            log.warning(
                "webinar %s: connection %r is not defined; attendance waits", w.slug, w.spec.platform.conn_id
            )
            return {"skipped": f"connection {w.spec.platform.conn_id} not defined"}
        report = fetch_participants(endpoint, w.spec.platform.webinar_id)
        result = import_attendees(
            engine, w, report, f"api:{w.spec.platform.conn_id}", f"api-{w.slug}", None, as_of
        )
        return {"attended": result.attended, "no_show": result.no_show, "new_leads": result.new_leads}

    return _each(webinars, "attendance", work)


def send_followups(engine: sa.Engine, transport: Transport, as_of: datetime) -> dict[str, Any]:
    webinars, _ = load_webinars()
    return _each(webinars, "follow-ups", lambda w: emails.send_followups(engine, transport, w, as_of))


def _as_dict(report) -> dict[str, Any] | None:
    return report.as_dict() if report is not None else None
