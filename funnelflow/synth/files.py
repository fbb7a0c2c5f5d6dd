"""Writing arrivals as the files real tools export: CSV, tab-separated text, XLSX.

A header style says which columns a tool exports, under which names, and how it
writes values (HubSpot's "Country/Region" with English country names, a German
trade-show list with "Vorname" and "Deutschland", Zoom's "Attended" Yes/No).
Each style has a column or two that no mapping knows, as real exports do.
CSV is written with the csv module over precomputed column lists (a million rows
in a few seconds); characters the encoding cannot hold become '?' as Excel does
when it saves cp1252.
"""

from __future__ import annotations

import csv
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from funnelflow.synth import vocab

FORMATS = ("csv", "tsv", "xlsx")
ENCODINGS = ("utf-8", "utf-8-sig", "utf-16", "cp1252")
SLICE_ROWS = 100_000  # rows rendered at a time, so writing adds little memory to the frame's
DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t", "|": "|"}

Column = tuple[str, Callable[[pd.DataFrame], list]]


def _text(frame: pd.DataFrame, name: str) -> list:
    """A column as a list of str/None (pandas may hold missing values as NaN)."""
    values = frame[name].to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = None
    return values.tolist()


def _col(name: str) -> Callable[[pd.DataFrame], list]:
    return lambda f: _text(f, name)


def _bool(name: str, yes: str, no: str) -> Callable[[pd.DataFrame], list]:
    return lambda f: np.where(f[name].to_numpy(dtype=bool), yes, no).tolist()


def _country(lang: int) -> Callable[[pd.DataFrame], list]:
    """Country as a name in one language (2 English, 3 German, 4 French), ISO code where unknown."""
    names = {code: info[lang] for code, info in vocab.COUNTRIES.items()}

    def render(f: pd.DataFrame) -> list:
        return [names.get(v, v) if v else v for v in _text(f, "country")]

    return render


def _time(name: str, fmt: str) -> Callable[[pd.DataFrame], list]:
    def render(f: pd.DataFrame) -> list:
        col = f[name]
        return [
            None if isinstance(v, float) else v
            for v in col.dt.strftime(fmt).astype(object).where(col.notna(), None).tolist()
        ]

    return render


def _serial(prefix: str, start: int) -> Callable[[pd.DataFrame], list]:
    # From the row's position in the frame, so a slice renders the same ids as the whole.
    return lambda f: [f"{prefix}{start + int(i)}" for i in f.index]


def _fixed(value: str) -> Callable[[pd.DataFrame], list]:
    return lambda f: [value] * len(f)


@dataclass(frozen=True)
class HeaderStyle:
    name: str
    columns: tuple[Column, ...]

    @property
    def header(self) -> list[str]:
        return [h for h, _ in self.columns]


HEADER_STYLES: dict[str, HeaderStyle] = {
    s.name: s
    for s in (
        HeaderStyle(
            "plain",
            tuple(
                (c, _bool(c, "true", "false") if c in ("consent", "do_not_email") else _col(c))
                for c in (
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
                )
            ),
        ),
        HeaderStyle(
            "hubspot",
            (
                ("Record ID", _serial("", 51_000_001)),
                ("First Name", _col("first_name")),
                ("Last Name", _col("last_name")),
                ("Email", _col("email")),
                ("Company Name", _col("company")),
                ("Job Title", _col("job_title")),
                ("Phone Number", _col("phone")),
                ("Country/Region", _country(2)),
                ("Original Source", _col("lead_source")),
                ("Create Date", _time("registered_at", "%Y-%m-%d %H:%M")),
                ("Marketing contact status", _fixed("Marketing contact")),
            ),
        ),
        HeaderStyle(
            "salesforce",
            (
                ("Lead ID", _serial("00Q5g00000", 100_000)),
                ("First Name", _col("first_name")),
                ("Last Name", _col("last_name")),
                ("Email", _col("email")),
                ("Company", _col("company")),
                ("Title", _col("job_title")),
                ("Phone", _col("phone")),
                ("Mailing Country", _country(2)),
                ("Lead Source", _col("lead_source")),
                ("Email Opt Out", _bool("do_not_email", "1", "0")),
                ("Lead Status", _fixed("Open - Not Contacted")),
            ),
        ),
        HeaderStyle(
            "german",
            (
                ("Vorname", _col("first_name")),
                ("Nachname", _col("last_name")),
                ("E-Mail", _col("email")),
                ("Firma", _col("company")),
                ("Position", _col("job_title")),
                ("Telefon", _col("phone")),
                ("Land", _country(3)),
                ("Notizen", _fixed("Messestand B12")),
            ),
        ),
        HeaderStyle(
            "french",
            (
                ("Prénom", _col("first_name")),
                ("Nom", _col("last_name")),
                ("E-mail", _col("email")),
                ("Société", _col("company")),
                ("Fonction", _col("job_title")),
                ("Téléphone", _col("phone")),
                ("Pays", _country(4)),
                ("Commentaire", _fixed("Salon Paris")),
            ),
        ),
        HeaderStyle(
            "webinar",
            (
                ("First Name", _col("first_name")),
                ("Last Name", _col("last_name")),
                ("Email", _col("email")),
                ("Organization", _col("company")),
                ("Job Title", _col("job_title")),
                ("Country/Region", _country(2)),
                ("Registration Time", _time("registered_at", "%m/%d/%Y %I:%M:%S %p")),
                ("Attended", _bool("attended", "Yes", "No")),
                ("Join Time", _time("joined_at", "%m/%d/%Y %I:%M:%S %p")),
                (
                    "Time in Session (minutes)",
                    lambda f: [
                        str(30 + (int(i) * 7) % 31) if a else ""
                        for i, a in zip(f.index, f["attended"].to_numpy(dtype=bool), strict=True)
                    ],
                ),
            ),
        ),
    )
}


def render_columns(frame: pd.DataFrame, header_style: str) -> tuple[list[str], list[list]]:
    """The header and the column value lists a style exports for these arrivals."""
    try:
        style = HEADER_STYLES[header_style]
    except KeyError:
        raise ValueError(
            f"unknown header style {header_style!r}; use one of {', '.join(HEADER_STYLES)}"
        ) from None
    return style.header, [render(frame) for _, render in style.columns]


def _check(fmt: str, encoding: str, delimiter: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if encoding not in ENCODINGS:
        raise ValueError(f"unknown encoding {encoding!r}; use one of {', '.join(ENCODINGS)}")
    if delimiter not in DELIMITERS:
        raise ValueError(f"unknown delimiter {delimiter!r}; use ',', ';', 'tab' or '|'")
    return DELIMITERS[delimiter]


def write_export(
    frame: pd.DataFrame,
    path: str | Path,
    *,
    fmt: str = "csv",
    encoding: str = "utf-8",
    delimiter: str = ",",
    header_style: str = "plain",
    timestamp: datetime | None = None,
) -> Path:
    """Write arrivals as one export file; returns the path. ``tsv`` means tab-delimited text.

    ``timestamp`` pins the XLSX document dates (openpyxl stamps the wall clock), so the
    same arrivals give the same bytes.
    """
    delim = _check(fmt, encoding, "tab" if fmt == "tsv" else delimiter)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "xlsx":
        header, columns = render_columns(frame, header_style)
        _write_xlsx(path, header, columns)
        _pin_xlsx(path, timestamp or datetime(2026, 1, 1, tzinfo=UTC))
        return path
    # errors="replace": what Excel does with characters a legacy code page cannot hold.
    with path.open("w", encoding=encoding, errors="replace", newline="") as fh:
        header = (
            HEADER_STYLES[header_style].header
            if header_style in HEADER_STYLES
            else render_columns(frame, header_style)[0]
        )
        fh.write(delim.join(map(_quote_for(delim), header)) + "\r\n")
        for start in range(0, len(frame), SLICE_ROWS):
            _, columns = render_columns(frame.iloc[start : start + SLICE_ROWS], header_style)
            write_delimited(fh, None, columns, delim)
    return path


def _quote_for(delim: str) -> Callable[[object], str]:
    needs_quotes = re.compile("[" + re.escape(delim) + '"\r\n]').search

    def quote(value: object) -> str:
        if value is None:
            return ""
        text = value if isinstance(value, str) else str(value)
        if needs_quotes(text):
            return '"' + text.replace('"', '""') + '"'
        return text

    return quote


def write_delimited(
    fh, header: list[str] | None, columns: list[list], delim: str, piece: int = 100_000
) -> None:
    """CSV as the csv module writes it (minimal quoting, CRLF), built per column and joined in C.

    Quoting is decided once per distinct value where a column repeats itself
    (countries, UTM fields) and per value elsewhere; a million rows take seconds.
    """
    quote = _quote_for(delim)
    rendered = []
    for col in columns:
        distinct = set(col)
        if len(distinct) * 4 < len(col):
            mapping = {v: quote(v) for v in distinct}
            rendered.append(list(map(mapping.__getitem__, col)))
        else:
            rendered.append(list(map(quote, col)))
    if header is not None:
        fh.write(delim.join(map(quote, header)) + "\r\n")
    rows = list(map(delim.join, zip(*rendered, strict=True))) if rendered else []
    for start in range(0, len(rows), piece):
        fh.write("\r\n".join(rows[start : start + piece]) + "\r\n")


def _write_xlsx(path: Path, header: list[str], columns: list[list]) -> None:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Leads")
    ws.append(header)
    for row in zip(*columns, strict=True):
        cells = []
        for value in row:
            if isinstance(value, str) and value.startswith("="):
                # openpyxl would store this as a formula; a list upload holds it as text.
                cell = WriteOnlyCell(ws, value=value)
                cell.data_type = "s"
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)
    wb.save(path)


def _pin_xlsx(path: Path, when: datetime) -> None:
    """Rewrite the XLSX zip with fixed entry times and document dates (byte-identical reruns)."""
    when = when.astimezone(UTC)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as zin:
        entries = [(info.filename, zin.read(info.filename)) for info in zin.infolist()]
    tmp = path.with_name(path.name + ".pin")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries:
            if name == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:)", rf"\g<1>{stamp}\g<3>", text
                )
                data = text.encode("utf-8")
            info = zipfile.ZipInfo(
                name, date_time=(when.year, when.month, when.day, when.hour, when.minute, when.second)
            )
            info.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(info, data)
    os.replace(tmp, path)


def read_back(path: str | Path, *, encoding: str, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    """Read a written CSV/TSV with the given encoding (for tests and checks): header and rows."""
    with Path(path).open("r", encoding=encoding, newline="") as fh:
        rows = list(csv.reader(fh, delimiter=DELIMITERS[delimiter]))
    return rows[0], rows[1:]
