"""The reference universe of companies shipped in ``funnelflow/data/companies.csv``.

About 3,000 fictional, real-world-shaped companies (``northwind-logistics.com``,
``brightlane.de``) with firmographics. The synthetic people work at these
companies, and the qualification area's default enrichment provider reads the
same file, so enrichment of synthetic leads finds their company. The file is
made once by ``generate_companies`` (``python -m funnelflow synth reference``)
and committed; regenerating with the default seed gives the same file.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from funnelflow.synth import vocab

COMPANIES_CSV = Path(__file__).resolve().parent.parent / "data" / "companies.csv"
COLUMNS = ("domain", "name", "industry", "employee_band", "revenue_band", "country", "region", "competitor")
REFERENCE_SEED = 20261123
REFERENCE_SIZE = 3000


def _weights(values) -> np.ndarray:
    w = np.asarray(values, dtype=float)
    return w / w.sum()


def generate_companies(seed: int = REFERENCE_SEED, n: int = REFERENCE_SIZE) -> pd.DataFrame:
    """``n`` companies (a handful of them competitors), unique by domain, deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    countries = list(vocab.COUNTRIES)
    country_p = _weights([vocab.COUNTRIES[c][0] for c in countries])
    industries = list(vocab.INDUSTRIES)
    industry_p = _weights([vocab.INDUSTRIES[i][0] for i in industries])
    bands = [b for b, _ in vocab.EMPLOYEE_BANDS]
    band_p = _weights([w for _, w in vocab.EMPLOYEE_BANDS])
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for domain, name, country in vocab.COMPETITORS:
        seen.add(domain)
        rows.append(
            {
                "domain": domain,
                "name": name,
                "industry": "Software",
                "employee_band": str(rng.choice(["51-200", "201-500", "501-1000"])),
                "revenue_band": str(rng.choice(["$10M-$50M", "$50M-$100M"])),
                "country": country,
                "region": vocab.COUNTRIES[country][1],
                "competitor": True,
            }
        )
    while len(rows) < n:
        country = countries[rng.choice(len(countries), p=country_p)]
        industry = industries[rng.choice(len(industries), p=industry_p)]
        stem = vocab.NAME_STEMS[rng.integers(len(vocab.NAME_STEMS))]
        words = vocab.INDUSTRIES[industry][1]
        word = words[rng.integers(len(words))]
        shape = rng.random()
        # Real brand shapes: "Northwind Logistics", "Brightlane", "Acme Analytics Group".
        if shape < 0.6:
            brand, slug_parts = f"{stem} {word}", [stem, word]
        elif shape < 0.85:
            other = vocab.NAME_STEMS[rng.integers(len(vocab.NAME_STEMS))].lower()
            brand, slug_parts = f"{stem}{other}", [stem + other]
        else:
            brand, slug_parts = stem, [stem]
        tlds = vocab.COUNTRIES[country][6]
        tld = tlds[0] if rng.random() < 0.65 else tlds[rng.integers(len(tlds))]
        if industry == "Software" and rng.random() < 0.3:
            tld = ".io" if rng.random() < 0.7 else ".ai"
        slugs = [vocab.ascii_slug(p) for p in slug_parts]
        joined = "-".join(slugs) if (len(slugs) > 1 and rng.random() < 0.55) else "".join(slugs)
        domain = f"{joined}{tld}"
        if domain in seen:
            continue
        seen.add(domain)
        suffixes = vocab.LEGAL_SUFFIX.get(country, ("",))
        suffix = suffixes[rng.integers(len(suffixes))]
        band_idx = int(rng.choice(len(bands), p=band_p))
        rev_idx = int(np.clip(band_idx + rng.choice([-1, 0, 0, 0, 1]), 0, len(vocab.REVENUE_BANDS) - 1))
        rows.append(
            {
                "domain": domain,
                "name": f"{brand} {suffix}".strip(),
                "industry": industry,
                "employee_band": bands[band_idx],
                "revenue_band": vocab.REVENUE_BANDS[rev_idx],
                "country": country,
                "region": vocab.COUNTRIES[country][1],
                "competitor": False,
            }
        )
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    # Competitors are scattered through the file, as they would be in any bought list.
    order = np.random.default_rng(seed + 1).permutation(len(frame))
    return frame.iloc[order].reset_index(drop=True)


def write_companies(path: str | Path, frame: pd.DataFrame | None = None) -> Path:
    """Write the universe as UTF-8 CSV with ``\\n`` line ends (stable bytes for git)."""
    frame = generate_companies() if frame is None else frame
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in frame.itertuples(index=False):
            writer.writerow([*row[:-1], "true" if row[-1] else "false"])
    return path


@lru_cache(maxsize=4)
def _load(path: str) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    frame["competitor"] = frame["competitor"].str.lower().eq("true")
    return frame


def load_companies(path: str | Path | None = None) -> pd.DataFrame:
    """The shipped universe (or another file of the same columns), one row per company domain."""
    return _load(str(Path(path) if path else COMPANIES_CSV)).copy()
