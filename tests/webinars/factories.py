"""A webinar file for the tests and a helper that loads it into the webinars table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from funnelflow.webinars import registrations as regs
from funnelflow.webinars.config import Webinar, load_webinar

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # before the webinar: registrations
AFTER = datetime(2026, 12, 10, 18, 0, tzinfo=UTC)  # after it: the attendee report
FILE = """title: Retirement planning
starts_at: "2026-12-10T16:00:00"
timezone: Europe/Berlin
duration_minutes: 60
join_url: https://zoom.example.com/j/1
capacity: 10
host: Dana
"""


def synced_webinar(engine: sa.Engine, folder: Path, slug: str = "rp") -> Webinar:
    """FILE as ``<folder>/webinars/<slug>.yaml``, loaded and kept in the webinars table as of AT."""
    path = folder / "webinars" / f"{slug}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(FILE)
    webinar = load_webinar(path)
    regs.sync_webinars(engine, [webinar], AT)
    return webinar
