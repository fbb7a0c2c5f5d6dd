"""The shipped company universe: what the generator makes, shaped like the real world."""

from __future__ import annotations

import pandas as pd

from funnelflow.synth import vocab
from funnelflow.synth.reference import (
    COLUMNS,
    COMPANIES_CSV,
    generate_companies,
    load_companies,
    write_companies,
)


def test_shipped_file_is_what_the_generator_makes(tmp_path):
    # The committed file must be regenerable: same function, same seed, same bytes.
    fresh = write_companies(tmp_path / "companies.csv")
    assert fresh.read_bytes() == COMPANIES_CSV.read_bytes()


def test_universe_shape():
    companies = load_companies()
    assert tuple(companies.columns) == COLUMNS
    assert 2500 <= len(companies) <= 3500
    assert companies["domain"].is_unique
    assert companies["domain"].str.fullmatch(r"[a-z0-9-]+(\.[a-z]{2,3})+").all()
    assert 3 <= int(companies["competitor"].sum()) <= 20
    assert set(companies["employee_band"]) == {b for b, _ in vocab.EMPLOYEE_BANDS}
    assert set(companies["revenue_band"]) <= set(vocab.REVENUE_BANDS)
    assert set(companies["region"]) == {"EMEA", "NA", "APAC", "LATAM"}
    # Region agrees with country, and the US leads, followed by the big European markets.
    assert (companies["region"] == companies["country"].map(lambda c: vocab.COUNTRIES[c][1])).all()
    top = companies["country"].value_counts().index[:4].tolist()
    assert top[0] == "US" and {"DE", "GB"} <= set(top)
    assert companies.isna().sum().sum() == 0


def test_generation_is_seeded():
    a, b, c = (
        generate_companies(seed=5, n=300),
        generate_companies(seed=5, n=300),
        generate_companies(seed=6, n=300),
    )
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
