"""The demo data set ``make demo`` uses: twelve weeks of a B2B marketing team's inbox.

About 2,000 people arrive through five export files dropped in
``FUNNELFLOW_HOME/inbox/leads/`` and through web-form posts written to
``lead_landing`` exactly as the public app writes them. Some people arrive
through more than one source, as in life. Each file has its tool's headers,
encoding and delimiter, and the mess of real exports. Deterministic: the same
seed and ``until`` give byte-identical files and identical landing rows, and
running it again adds no landing row twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from funnelflow import settings
from funnelflow.db.schema import lead_landing
from funnelflow.ingest.config import WEB_FORM_SOURCE
from funnelflow.synth.arrivals import MessRates, make_arrivals
from funnelflow.synth.files import write_export
from funnelflow.synth.people import STREAM_FORMS, generate_people, rng_for
from funnelflow.web.leads import FORM_FIELDS  # the form's fields, exactly as the public app takes them

DEMO_MESSAGE = "Our sales team answers web leads days late; we want every hot lead called within hours."


@dataclass(frozen=True)
class DemoFile:
    name: str
    share: float  # of the people
    header_style: str
    fmt: str
    encoding: str
    delimiter: str


DEMO_FILES = (
    DemoFile("hubspot-contacts-export-2026-11-20.csv", 0.25, "hubspot", "csv", "utf-8-sig", ","),
    DemoFile("messe-berlin-2026-besucher.csv", 0.15, "german", "csv", "cp1252", ";"),
    DemoFile("webinar-lead-scoring-101-attendees.tsv", 0.15, "webinar", "tsv", "utf-16", "tab"),
    DemoFile("list-upload-q4-enterprise.xlsx", 0.12, "salesforce", "xlsx", "utf-8", ","),
    DemoFile("salon-marketing-paris-2026.csv", 0.1, "french", "csv", "utf-8", ";"),
)
WEB_FORM_SHARE = 0.23
# Arrivals spread over the twelve weeks before the demo's day: the weekly report's trend
# (funnelflow.synth.history replays those weeks' scoring, routing and deals).
HISTORY_WEEKS = 12
# Share of each source's rows that are people another source also brought.
CROSS_SOURCE_OVERLAP = 0.08


@dataclass
class DemoResult:
    inbox: Path
    files: list[tuple[Path, int]] = field(default_factory=list)
    landing: int = 0  # rows inserted now (0 on a rerun)
    landing_rows: list[dict] = field(default_factory=list)


def canonical_json(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"))


def content_hash(payload: dict) -> str:
    """How the public app names a submission: SHA-256 of the payload's canonical JSON."""
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def _slices(rng: np.random.Generator, n_people: int) -> list[np.ndarray]:
    """Which people each source brings: a share each, plus a few from the other sources."""
    order = rng.permutation(n_people)
    shares = [f.share for f in DEMO_FILES] + [WEB_FORM_SHARE]
    bounds = np.cumsum([0] + [int(round(s * n_people)) for s in shares])
    bounds[-1] = n_people
    out = []
    for i in range(len(shares)):
        own = order[bounds[i] : bounds[i + 1]]
        extra = rng.choice(n_people, size=int(len(own) * CROSS_SOURCE_OVERLAP), replace=False)
        out.append(np.concatenate([own, extra[~np.isin(extra, own)]]))
    return out


def _atomic_write(final: Path, write) -> None:
    """Write beside the inbox and rename in, so an ingestion run never sees half a file."""
    staging = final.parent.parent / ".synth-staging"
    staging.mkdir(parents=True, exist_ok=True)
    tmp = staging / final.name
    write(tmp)
    os.replace(tmp, final)


def web_form_rows(arrivals: pd.DataFrame, seed: int) -> list[dict]:
    """lead_landing rows for web-form posts, as the public app writes them."""
    rng = rng_for(seed, STREAM_FORMS)
    from funnelflow.synth import vocab

    pages = [vocab.SITE + p for p, _ in vocab.FORM_PAGES]
    page_p = np.array([w for _, w in vocab.FORM_PAGES])
    page_idx = rng.choice(len(pages), size=len(arrivals), p=page_p / page_p.sum())
    ips = [
        f"{net}.{int(x)}"
        for net, x in zip(
            np.array(["192.0.2", "198.51.100", "203.0.113"])[rng.integers(0, 3, len(arrivals))],
            rng.integers(1, 255, len(arrivals)),
            strict=True,
        )
    ]
    rows = []
    records = arrivals.astype(object).where(arrivals.notna(), None).to_dict("records")
    from pydantic import ValidationError

    from funnelflow.web.leads import LeadForm

    for rec, page, ip in zip(records, page_idx, ips, strict=True):
        posted = {f: rec[f] for f in FORM_FIELDS if f not in ("consent", "page_url", "message")}
        posted = {k: (None if v in (None, "") else str(v)) for k, v in posted.items()}
        posted["consent"] = bool(rec["consent"])
        posted["page_url"] = pages[int(page)]
        # The demo form asks "What would you like to solve?" (shown to the rep at the handoff).
        posted["message"] = DEMO_MESSAGE if "/demo" in posted["page_url"] else None
        try:
            # Exactly what the public app stores: its own model, its own field list.
            payload = LeadForm.model_validate(posted).model_dump(include=set(FORM_FIELDS))
        except ValidationError:
            continue  # the app answers 422 (no address, two @...): nothing lands
        received = pd.Timestamp(rec["registered_at"]).to_pydatetime()
        rows.append(
            {
                "source": WEB_FORM_SOURCE,
                "received_at": received,
                "payload": payload,
                "content_hash": content_hash(payload),
                "client_ip": ip,
            }
        )
    rows.sort(key=lambda r: (r["received_at"], r["content_hash"]))
    return rows


def demo_frames(*, seed: int, until: datetime, people: int = 2000) -> tuple[list[pd.DataFrame], pd.DataFrame]:
    """The arrivals of each demo file (in ``DEMO_FILES`` order) and of the web form; no files, no database."""
    everyone = generate_people(people, seed)
    slices = _slices(rng_for(seed, STREAM_FORMS, 1), people)
    files = []
    for i, _spec in enumerate(DEMO_FILES):
        subset = everyone.iloc[slices[i]].reset_index(drop=True)
        files.append(
            make_arrivals(
                len(subset) + int(len(subset) * 0.04),
                seed + 1000 * (i + 1),
                repeat_rate=0.04,
                broken_rate=0.02,
                rates=MessRates(),
                until=until,
                weeks=HISTORY_WEEKS,
                people=subset,
            )
        )
    form_people = everyone.iloc[slices[-1]].reset_index(drop=True)
    forms = make_arrivals(
        len(form_people) + int(len(form_people) * 0.03),
        seed + 7000,
        repeat_rate=0.03,
        broken_rate=0.01,
        rates=MessRates(newline=0.0, formula=0.002),
        until=until,
        weeks=HISTORY_WEEKS,
        people=form_people,
    )
    return files, forms


def write_demo(
    engine: sa.Engine, *, seed: int, until: datetime, people: int = 2000, inbox: Path | None = None
) -> DemoResult:
    """Write the demo files into the inbox and the web-form posts into lead_landing."""
    inbox = inbox or settings.funnelflow_home() / "inbox" / "leads"
    inbox.mkdir(parents=True, exist_ok=True)
    files, forms = demo_frames(seed=seed, until=until, people=people)
    result = DemoResult(inbox=inbox)
    for spec, frame in zip(DEMO_FILES, files, strict=True):
        target = inbox / spec.name
        _atomic_write(
            target,
            lambda tmp, frame=frame, spec=spec: write_export(
                frame,
                tmp,
                fmt=spec.fmt,
                encoding=spec.encoding,
                delimiter=spec.delimiter,
                header_style=spec.header_style,
                timestamp=until,
            ),
        )
        result.files.append((target, len(frame)))
    rows = web_form_rows(forms, seed)
    result.landing_rows = rows
    with engine.begin() as conn:
        existing = {
            (h, t)
            for h, t in conn.execute(
                sa.select(lead_landing.c.content_hash, lead_landing.c.received_at).where(
                    lead_landing.c.source == WEB_FORM_SOURCE
                )
            )
        }
        new = [r for r in rows if (r["content_hash"], r["received_at"]) not in existing]
        if new:
            conn.execute(lead_landing.insert(), new)
    result.landing = len(new)
    return result
