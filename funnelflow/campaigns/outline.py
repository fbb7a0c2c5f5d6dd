"""What the campaign DAG factory needs of each campaign file, cheaply: validated outlines, cached.

Airflow parses ``dags/campaigns.py`` every half minute. Validating every campaign file
(pydantic, the segment language, the Markdown beside it) each time costs more than the
rest of the parse, and the files rarely change. So the outcome of ``load_all`` (per file:
the few facts a DAG is made of, or the file's error with line and fix) is kept in
FUNNELFLOW_HOME/cache, keyed by the name, size and modification time of every file under
the campaigns folder and of the modules that validate them. An unchanged folder is read
back from one JSON file without importing pydantic; any change validates everything again.
Without a writable home the outlines are simply computed each time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_HERE = Path(__file__).resolve().parent
# The modules whose rules decide whether a file is valid: a change to them invalidates the cache.
_VALIDATORS = (
    _HERE / "config.py",
    _HERE / "outline.py",
    _HERE.parent / "segments.py",
    _HERE.parent / "yaml_config.py",
    _HERE.parent / "db" / "schema.py",  # the touch types a segment may name
)


@dataclass(frozen=True)
class Outline:
    """One valid campaign file, as far as its DAG goes."""

    slug: str
    name: str
    description: str
    owner: str
    markdown: str
    cron: str | None
    once: str | None  # ISO 8601 with offset
    timezone: str
    ab_test: dict[str, Any] | None  # share, wait_hours, metric, min_per_variant
    offer: dict[str, Any] | None  # limit, expires_at (ISO 8601)

    @property
    def once_at(self) -> datetime | None:
        return datetime.fromisoformat(self.once) if self.once else None


def outline_of(campaign) -> Outline:
    s = campaign.spec
    return Outline(
        slug=campaign.slug,
        name=s.name,
        description=s.description,
        owner=s.owner,
        markdown=s.content.markdown,
        cron=s.schedule.cron,
        once=s.schedule.once.isoformat() if s.schedule.once else None,
        timezone=s.schedule.timezone,
        ab_test=s.ab_test.model_dump() if s.ab_test else None,
        offer={"limit": s.offer.limit, "expires_at": s.offer.expires_at.isoformat()} if s.offer else None,
    )


def _fingerprint(folder: Path) -> list[Any]:
    files: list[list[Any]] = []
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            st = os.stat(os.path.join(root, name))
            files.append([os.path.relpath(os.path.join(root, name), folder), st.st_mtime_ns, st.st_size])
    code = [[p.name, p.stat().st_mtime_ns, p.stat().st_size] for p in _VALIDATORS if p.exists()]
    return [CACHE_VERSION, str(folder), files, code]


def _cache_file(folder: Path) -> Path | None:
    from funnelflow import settings

    try:
        home = settings.funnelflow_home()
    except Exception:  # no writable home: no cache, the outlines are computed each time
        return None
    digest = hashlib.sha256(str(folder).encode()).hexdigest()[:16]
    return home / "cache" / f"campaign_outlines-{digest}.json"


def _compute(folder: Path) -> tuple[list[Outline], dict[str, str]]:
    from funnelflow.campaigns.config import load_all

    good, bad = load_all(folder)
    return [outline_of(c) for c in good], bad


def outlines(folder: Path | None = None) -> tuple[list[Outline], dict[str, str]]:
    """Every campaign file's outline (valid files) and ``{slug: error}`` (the others), as ``load_all``
    would find them now."""
    if folder is None:
        from funnelflow import settings

        folder = settings.config_dir() / "campaigns"
    folder = folder.resolve()
    if not folder.is_dir():
        return [], {}
    key = _fingerprint(folder)
    cache = _cache_file(folder)
    if cache is not None:
        try:
            stored = json.loads(cache.read_text(encoding="utf-8"))
            if stored["key"] == key:
                return [Outline(**o) for o in stored["good"]], dict(stored["bad"])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # missing, half-written or from another version: validate again
    good, bad = _compute(folder)
    if cache is not None:
        _write(cache, {"key": key, "good": [asdict(o) for o in good], "bad": bad})
    return good, bad


def _write(cache: Path, content: dict[str, Any]) -> None:
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        partial = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(content), encoding="utf-8")
        os.replace(partial, cache)  # readers see the old file or the new one, never half of one
    except OSError as exc:
        log.warning("campaign outlines not cached (%s): each parse validates the files", exc.strerror)
