"""Export files: every header style and encoding reads back with the right header and text."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from funnelflow.synth.arrivals import MessRates, make_arrivals
from funnelflow.synth.files import ENCODINGS, HEADER_STYLES, render_columns, write_export

UNTIL = datetime(2026, 11, 23, 12, tzinfo=UTC)
BOMS = {"utf-8-sig": b"\xef\xbb\xbf", "utf-16": (b"\xff\xfe", b"\xfe\xff")}


@pytest.fixture(scope="module")
def frame():
    # More mess than usual so a few hundred rows hold every kind (line breaks, formulas, HTML).
    return make_arrivals(400, seed=2, until=UNTIL, rates=MessRates(newline=0.03, formula=0.03, html=0.03))


def _expected(frame, style, encoding):
    header, columns = render_columns(frame, style)
    rows = [["" if v is None else str(v) for v in row] for row in zip(*columns, strict=True)]
    if encoding == "cp1252":  # what the writer (like Excel) does with characters cp1252 lacks
        rows = [[v.encode("cp1252", "replace").decode("cp1252") for v in row] for row in rows]
    return header, rows


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("style", list(HEADER_STYLES))
def test_csv_reads_back(tmp_path, frame, style, encoding):
    delimiter = {"utf-16": "tab", "cp1252": ";"}.get(encoding, ",")
    path = write_export(
        frame, tmp_path / "export.csv", encoding=encoding, delimiter=delimiter, header_style=style
    )
    data = path.read_bytes()
    if encoding in BOMS:
        assert data.startswith(BOMS[encoding])
    else:
        assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode(encoding)
    if encoding == "utf-16":
        text = text.lstrip("\ufeff")
    got = list(csv.reader(io.StringIO(text, newline=""), delimiter={"tab": "\t"}.get(delimiter, delimiter)))
    header, rows = _expected(frame, style, encoding)
    assert got[0] == header == HEADER_STYLES[style].header
    assert got[1:] == rows


def test_header_styles_name_the_columns_real_tools_export():
    assert HEADER_STYLES["plain"].header == [
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
    ]
    assert {"First Name", "Email", "Company Name", "Country/Region", "Original Source"} <= set(
        HEADER_STYLES["hubspot"].header
    )
    assert {"Email Opt Out", "Mailing Country", "Lead Source", "Title"} <= set(
        HEADER_STYLES["salesforce"].header
    )
    assert HEADER_STYLES["german"].header[:7] == [
        "Vorname",
        "Nachname",
        "E-Mail",
        "Firma",
        "Position",
        "Telefon",
        "Land",
    ]
    assert HEADER_STYLES["french"].header[:7] == [
        "Prénom",
        "Nom",
        "E-mail",
        "Société",
        "Fonction",
        "Téléphone",
        "Pays",
    ]
    assert {"Organization", "Registration Time", "Attended", "Join Time"} <= set(
        HEADER_STYLES["webinar"].header
    )


def test_cp1252_is_really_cp1252_and_line_breaks_are_quoted(tmp_path, frame):
    path = write_export(
        frame, tmp_path / "messe.csv", encoding="cp1252", delimiter=";", header_style="german"
    )
    data = path.read_bytes()
    assert "Deutschland".encode("cp1252") in data or "Vereinigte Staaten".encode("cp1252") in data
    assert b"\xc3" not in data  # no UTF-8 sequences
    assert any(ch.encode("cp1252") in data for ch in "üöäéèç")
    lines = data.decode("cp1252").split("\r\n")
    records = list(csv.reader(io.StringIO(data.decode("cp1252"), newline=""), delimiter=";"))
    assert len(records) == len(frame) + 1 < len(lines)  # some records span lines (quoted newlines)


def test_tsv_format(tmp_path, frame):
    path = write_export(frame, tmp_path / "webinar.tsv", fmt="tsv", encoding="utf-16", header_style="webinar")
    first_line = path.read_bytes().decode("utf-16").splitlines()[0]
    assert first_line.split("\t")[:3] == ["First Name", "Last Name", "Email"]


def test_xlsx_opens_and_keeps_formulas_as_text(tmp_path, frame):
    path = write_export(
        frame, tmp_path / "upload.xlsx", fmt="xlsx", header_style="salesforce", timestamp=UNTIL
    )
    wb = load_workbook(path)
    ws = wb.active
    rows = list(ws.iter_rows(values_only=True))
    header, expected = _expected(frame, "salesforce", "utf-8")
    assert list(rows[0]) == header
    assert len(rows) == len(frame) + 1
    got = [["" if v is None else str(v) for v in row] for row in rows[1:]]
    # XML keeps a line break as \n; a \r\n inside a cell comes back as \n.
    assert got == [[v.replace("\r\n", "\n") for v in row] for row in expected]
    formula_like = [
        c
        for row in ws.iter_rows(min_row=2)
        for c in row
        if isinstance(c.value, str) and c.value.startswith("=")
    ]
    assert formula_like and all(c.data_type == "s" for c in formula_like)
    # Same data, same timestamp: the same bytes (openpyxl's clock stamp is pinned).
    again = write_export(
        frame, tmp_path / "again.xlsx", fmt="xlsx", header_style="salesforce", timestamp=UNTIL
    )
    assert again.read_bytes() == path.read_bytes()


def test_bad_options(tmp_path, frame):
    with pytest.raises(ValueError, match="header style"):
        write_export(frame, tmp_path / "x.csv", header_style="oracle")
    with pytest.raises(ValueError, match="encoding"):
        write_export(frame, tmp_path / "x.csv", encoding="latin-9")
