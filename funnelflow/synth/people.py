"""Synthetic people: who they truly are, before any source gets their details wrong.

``iter_people`` yields fixed-size blocks (each from its own seeded generator, so
memory stays flat for any count), with email keys unique across all blocks.
``generate_people`` is the same as one DataFrame.
Everything is vectorized with numpy except building email addresses, which
needs a set of the keys already used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from funnelflow.synth import vocab
from funnelflow.synth.reference import load_companies

BLOCK_SIZE = 50_000
# Sub-streams of one seed, so adding a draw to one step never shifts another step's output.
STREAM_PEOPLE, STREAM_ARRIVALS, STREAM_TOUCHES, STREAM_DB, STREAM_FORMS = 1, 2, 3, 4, 5

PEOPLE_COLUMNS = (
    "person_id",
    "first_name",
    "last_name",
    "email",
    "email_domain",
    "free_mail",
    "company",
    "company_domain",
    "job_title",
    "phone",
    "phone_e164",
    "country",
)


def object_frame(columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A DataFrame keeping text columns as Python objects (pandas 3 would make them Arrow strings, slowly)."""
    return pd.DataFrame(
        {
            name: pd.Series(values, dtype=object, copy=False)
            if isinstance(values, np.ndarray) and values.dtype == np.dtype(object)
            else values
            for name, values in columns.items()
        }
    )


def rng_for(seed: int, stream: int, block: int = 0) -> np.random.Generator:
    """The generator for one (seed, stream, block): independent of every other draw."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, stream, block])


def _p(weights) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return w / w.sum()


@dataclass
class _NameTable:
    """All names flattened, with per-language index ranges and ASCII slugs."""

    first: np.ndarray
    first_slug: np.ndarray
    first_range: dict[str, tuple[int, int]]
    last: np.ndarray
    last_slug: np.ndarray
    last_range: dict[str, tuple[int, int]]
    languages: list[str] = field(default_factory=list)

    @classmethod
    def build(cls) -> _NameTable:
        def flat(table: dict[str, tuple[str, ...]]):
            names, ranges = [], {}
            for lang, values in table.items():
                ranges[lang] = (len(names), len(names) + len(values))
                names.extend(values)
            arr = np.array(names, dtype=object)
            slugs = np.array([vocab.ascii_slug(n).replace("-", "") or "x" for n in names], dtype=object)
            return arr, slugs, ranges

        f, fs, fr = flat(vocab.FIRST_NAMES)
        ln, ls, lr = flat(vocab.LAST_NAMES)
        return cls(f, fs, fr, ln, ls, lr, list(vocab.FIRST_NAMES))


_NAMES: _NameTable | None = None


def _names() -> _NameTable:
    global _NAMES
    if _NAMES is None:
        _NAMES = _NameTable.build()
    return _NAMES


def _pick_in_ranges(
    rng: np.random.Generator, langs: np.ndarray, ranges: dict[str, tuple[int, int]], languages: list[str]
) -> np.ndarray:
    out = np.empty(len(langs), dtype=np.int64)
    for li, lang in enumerate(languages):
        mask = langs == li
        count = int(mask.sum())
        if count:
            lo, hi = ranges[lang]
            out[mask] = rng.integers(lo, hi, size=count)
    return out


# --- phones -----------------------------------------------------------------------


def _fill(template: str, digits: np.ndarray, area: np.ndarray | None) -> np.ndarray:
    """Fill '#' (and 'AAA') of an ASCII template from per-row digit columns, vectorized."""
    n = digits.shape[0]
    buf = np.frombuffer(template.encode("ascii"), dtype=np.uint8)
    mat = np.tile(buf, (n, 1))
    d = 0
    a = 0
    for pos, ch in enumerate(template):
        if ch == "#":
            mat[:, pos] = digits[:, d] + 48
            d += 1
        elif ch == "A":
            mat[:, pos] = area[:, a]
            a += 1
    return np.char.decode(np.ascontiguousarray(mat).view(f"S{len(template)}").ravel(), "ascii").astype(object)


def make_phones(rng: np.random.Generator, countries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Phone numbers as people type them in their country, and the same numbers in E.164."""
    n = len(countries)
    local = np.empty(n, dtype=object)
    e164 = np.empty(n, dtype=object)
    area_codes = np.frombuffer("".join(vocab.NANP_AREA_CODES).encode("ascii"), dtype=np.uint8).reshape(-1, 3)
    for country in np.unique(countries):
        idx = np.flatnonzero(countries == country)
        cc = vocab.COUNTRIES[country][5] if country in vocab.COUNTRIES else "1"
        formats = vocab.PHONE_FORMATS.get(country, (("+" + cc + " ## ### ####", "#########", 1.0),))
        which = rng.choice(len(formats), size=len(idx), p=_p([f[2] for f in formats]))
        for fi, (national, body, _share) in enumerate(formats):
            rows = idx[which == fi]
            if not len(rows):
                continue
            k = national.count("#")
            digits = rng.integers(0, 10, size=(len(rows), k), dtype=np.uint8)
            digits[:, 0] = rng.integers(
                2, 10, size=len(rows), dtype=np.uint8
            )  # no trunk 0/1 after the prefix
            area = area_codes[rng.integers(0, len(area_codes), size=len(rows))] if "A" in national else None
            local[rows] = _fill(national, digits, area)
            e164[rows] = "+" + cc + _fill(body, digits, area)
    return local, e164


# --- people -----------------------------------------------------------------------


class _Universe:
    def __init__(self, companies: pd.DataFrame) -> None:
        self.frame = companies.reset_index(drop=True)
        self.domain = self.frame["domain"].to_numpy(dtype=object)
        self.name = self.frame["name"].to_numpy(dtype=object)
        self.country = self.frame["country"].to_numpy(dtype=object)
        comp = self.frame["competitor"].to_numpy(dtype=bool)
        weight = np.array(
            self.frame["employee_band"].map(vocab.EMPLOYEE_BAND_PEOPLE_WEIGHT).fillna(1.0), dtype=float
        )
        weight[comp] = 0.3
        self.p = weight / weight.sum()
        # Each company writes addresses one way: first.last, flast, firstlast, first_last, f.last, first.
        pattern_rng = np.random.default_rng(7)
        self.pattern = pattern_rng.choice(6, size=len(self.frame), p=[0.55, 0.15, 0.1, 0.06, 0.08, 0.06])
        small = self.frame["employee_band"].isin(["1-10", "11-50"]).to_numpy()
        self.pattern[(self.pattern == 5) & ~small] = 0


def _business_local(pattern: int, first: str, last: str) -> str:
    if pattern == 0:
        return f"{first}.{last}"
    if pattern == 1:
        return f"{first[0]}{last}"
    if pattern == 2:
        return f"{first}{last}"
    if pattern == 3:
        return f"{first}_{last}"
    if pattern == 4:
        return f"{first[0]}.{last}"
    return first


def _free_local(shape: int, first: str, last: str, number: int) -> str:
    if shape == 0:
        return f"{first}.{last}"
    if shape == 1:
        return f"{first}.{last}{number % 100:02d}"
    if shape == 2:
        return f"{first}{last}{1960 + number % 46}"
    if shape == 3:
        return f"{first[0]}{last}{number % 1000}"
    return f"{first}_{last}"


def email_key_fast(local: str, domain: str) -> str:
    """Same result as ``identity.email_key`` for the clean addresses built here (a test checks it)."""
    if domain in ("gmail.com", "googlemail.com"):
        return local.replace(".", "") + "@gmail.com"
    return f"{local}@{domain}"


def iter_people(
    n: int,
    seed: int = 0,
    *,
    companies: pd.DataFrame | None = None,
    free_mail_share: float = 0.15,
    block_size: int = BLOCK_SIZE,
    taken: set[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """``n`` distinct people in blocks of ``block_size`` (the last may be shorter); keys unique overall.

    Deterministic for (n, seed, block_size, companies). ``taken`` holds email keys that
    must not be used (people already in a database); it is extended in place.
    """
    universe = _Universe(load_companies() if companies is None else companies)
    names = _names()
    free_domains = np.array([d for d, _ in vocab.FREE_MAIL_DOMAINS], dtype=object)
    free_p = _p([w for _, w in vocab.FREE_MAIL_DOMAINS])
    titles = np.array([t for t, _ in vocab.JOB_TITLES], dtype=object)
    title_p = _p([w for _, w in vocab.JOB_TITLES])
    countries = list(vocab.COUNTRIES)
    country_p = _p([vocab.COUNTRIES[c][0] for c in countries])
    lang_index = {lang: i for i, lang in enumerate(names.languages)}
    country_lang = np.array([lang_index[vocab.COUNTRY_LANGUAGE.get(c, "en")] for c in countries])
    country_pos = {c: i for i, c in enumerate(countries)}
    seen: set[str] = taken if taken is not None else set()
    for block, start in enumerate(range(0, n, block_size)):
        size = min(block_size, n - start)
        rng = rng_for(seed, STREAM_PEOPLE, block)
        comp = rng.choice(len(universe.p), size=size, p=universe.p)
        country = universe.country[comp].copy()
        abroad = rng.random(size) < 0.08
        country[abroad] = np.array(countries, dtype=object)[
            rng.choice(len(countries), size=int(abroad.sum()), p=country_p)
        ]
        cpos = np.fromiter((country_pos[c] for c in country), dtype=np.int64, count=size)
        lang = country_lang[cpos]
        mixed = rng.random(size) >= vocab.OWN_LANGUAGE_SHARE
        lang[mixed] = rng.integers(0, len(names.languages), size=int(mixed.sum()))
        first_i = _pick_in_ranges(rng, lang, names.first_range, names.languages)
        last_i = _pick_in_ranges(rng, lang, names.last_range, names.languages)
        free = rng.random(size) < free_mail_share
        free_dom = free_domains[rng.choice(len(free_domains), size=size, p=free_p)]
        # gmx.de / web.de are German-speaking, orange.fr French; elsewhere those people use Gmail.
        wrong_region = ((free_dom == "gmx.de") | (free_dom == "web.de")) & ~np.isin(
            country, ["DE", "AT", "CH"]
        )
        wrong_region |= (free_dom == "orange.fr") & (country != "FR")
        free_dom[wrong_region] = "gmail.com"
        free_shape = rng.integers(0, 5, size=size)
        numbers = rng.integers(0, 1_000_000, size=size)
        title = titles[rng.choice(len(titles), size=size, p=title_p)]
        phone, phone_e164 = make_phones(rng, country)
        no_phone = rng.random(size) < 0.25
        phone[no_phone] = None
        phone_e164[no_phone] = None

        first_slug = names.first_slug[first_i]
        last_slug = names.last_slug[last_i]
        comp_domain = universe.domain[comp]
        pattern = universe.pattern[comp]
        emails = np.empty(size, dtype=object)
        domains = np.where(free, free_dom, comp_domain)
        for i in range(size):
            fs, ls, dom = first_slug[i], last_slug[i], domains[i]
            local = (
                _free_local(free_shape[i], fs, ls, numbers[i])
                if free[i]
                else _business_local(pattern[i], fs, ls)
            )
            key = email_key_fast(local, dom)
            if key in seen:
                suffix = 2
                while email_key_fast(f"{local}{suffix}", dom) in seen:
                    suffix += 1
                local = f"{local}{suffix}"
                key = email_key_fast(local, dom)
            seen.add(key)
            emails[i] = f"{local}@{dom}"
        yield object_frame(
            {
                "person_id": np.arange(start, start + size, dtype=np.int64),
                "first_name": names.first[first_i],
                "last_name": names.last[last_i],
                "email": emails,
                "email_domain": domains,
                "free_mail": free,
                "company": universe.name[comp],
                "company_domain": comp_domain,
                "job_title": title,
                "phone": phone,
                "phone_e164": phone_e164,
                "country": country,
            }
        )


def generate_people(n: int, seed: int = 0, **kwargs) -> pd.DataFrame:
    """``n`` distinct people (true identities) as one DataFrame with ``PEOPLE_COLUMNS``."""
    blocks = list(iter_people(n, seed, **kwargs))
    if not blocks:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in PEOPLE_COLUMNS})
    return pd.concat(blocks, ignore_index=True)
