"""Reading dropped export files: format, encoding and delimiter detected, streamed in chunks.

CSV and tab-separated exports are read with the ``csv`` module (quoted
newlines handled, the physical line number of every record kept, rows with
more fields than the header reported instead of lost); XLSX with openpyxl in
read-only mode, formulas kept as their text. Every cell is a string: nothing is
evaluated or converted. A file whose structure cannot be read raises
``FileUnreadable`` with the reason, and goes to ``failed/``.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls / .doc
csv.field_size_limit(10 * 1024 * 1024)


class FileUnreadable(Exception):
    """The file's structure cannot be read at all (not one row can be trusted)."""


@dataclass(frozen=True)
class FileFacts:
    content_hash: str
    size: int
    kind: str  # csv or xlsx
    encoding: str | None = None
    delimiter: str | None = None


@dataclass
class RawChunk:
    """A block of records as strings, keyed by the file's own headers, with their line numbers."""

    rows: list[list[str]]
    lines: list[int]
    # (line, problem, raw cells) for records the reader itself could not place in columns
    malformed: list[tuple[int, str, list[str]]] = field(default_factory=list)


def inspect_file(stream: IO[bytes]) -> FileFacts:
    """One pass over the bytes: content hash, format, encoding (checked over the whole file) and delimiter."""
    digest = hashlib.sha256()
    sample = b""
    size = 0
    utf8 = codecs.getincrementaldecoder("utf-8")()
    utf8_ok = True
    has_nul = False
    while block := stream.read(1024 * 1024):
        if len(sample) < SAMPLE_BYTES:
            sample += block[: SAMPLE_BYTES - len(sample)]
        digest.update(block)
        size += len(block)
        if not has_nul and b"\x00" in block:
            has_nul = True
        if utf8_ok:
            try:
                utf8.decode(block)
            except UnicodeDecodeError:
                utf8_ok = False
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    content_hash = digest.hexdigest()
    if size == 0 or not sample.strip(b" \t\r\n\xef\xbb\xbf"):
        raise FileUnreadable("empty file: no header row and no data")
    if sample.startswith(XLSX_MAGIC):
        return FileFacts(content_hash, size, "xlsx")
    if sample.startswith(OLE_MAGIC):
        raise FileUnreadable("legacy Excel (.xls) or other binary document; save it as .xlsx or CSV")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif sample.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif has_nul:
        raise FileUnreadable("binary content (NUL bytes), not a text export; export the list as CSV or XLSX")
    elif utf8_ok:
        encoding = "utf-8"
    else:
        encoding = "cp1252" if _decodes(sample, "cp1252") else "latin-1"
    text = sample.decode(encoding, errors="ignore")
    if _looks_binary(text):
        raise FileUnreadable(
            "binary content (control characters), not a text export; export the list as CSV or XLSX"
        )
    return FileFacts(content_hash, size, "csv", encoding, _detect_delimiter(text))


def _decodes(sample: bytes, encoding: str) -> bool:
    try:
        sample.decode(encoding)
        return True
    except UnicodeDecodeError:
        return False


def _looks_binary(text: str) -> bool:
    if not text:
        return False
    control = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\r\n\f")
    return control / min(len(text), 8192) > 0.01


def _detect_delimiter(text: str) -> str:
    """The delimiter that splits the header line most (quotes respected), comma on a tie."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    best, best_count = ",", 0
    for delim in DELIMITERS:
        try:
            count = len(next(csv.reader([first], delimiter=delim))) - 1
        except (csv.Error, StopIteration):
            count = 0
        if count > best_count:
            best, best_count = delim, count
    return best


def _unique_headers(raw: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    headers = []
    for i, value in enumerate(raw):
        name = str(value).strip().lstrip("\ufeff") or f"column {i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        headers.append(name)
    return headers


def read_records(
    stream: IO[bytes], facts: FileFacts, chunk_rows: int
) -> tuple[list[str], Iterator[RawChunk]]:
    """The header row and an iterator of record chunks; blank records are skipped."""
    if facts.kind == "xlsx":
        return _read_xlsx(stream, chunk_rows)
    return _read_csv(stream, facts, chunk_rows)


def _read_csv(stream: IO[bytes], facts: FileFacts, chunk_rows: int) -> tuple[list[str], Iterator[RawChunk]]:
    text = io.TextIOWrapper(stream, encoding=facts.encoding or "utf-8", newline="", errors="strict")
    reader = csv.reader(text, delimiter=facts.delimiter or ",")
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise FileUnreadable(f"header row cannot be read: {exc}") from None
    if header is None:
        raise FileUnreadable("empty file: no header row and no data")
    headers = _unique_headers(header)
    width = len(headers)
    if width < 2 and facts.delimiter == ",":
        # One column is possible (a bare list of addresses), but never binary noise.
        pass

    def chunks() -> Iterator[RawChunk]:
        chunk = RawChunk([], [])
        line = reader.line_num + 1
        try:
            for row in reader:
                start, line = line, reader.line_num + 1
                if not "".join(row).strip():  # blank record (one C-level join, not a generator per row)
                    continue
                if len(row) > width:
                    if any(cell.strip() for cell in row[width:]):
                        chunk.malformed.append(
                            (start, f"row has {len(row)} fields, the header has {width}", row)
                        )
                        continue
                    row = row[:width]
                elif len(row) < width:
                    row = row + [""] * (width - len(row))
                chunk.rows.append(row)
                chunk.lines.append(start)
                if len(chunk.rows) >= chunk_rows:
                    yield chunk
                    chunk = RawChunk([], [])
        except csv.Error as exc:
            raise FileUnreadable(f"line {line}: {exc}") from None
        except UnicodeDecodeError as exc:
            raise FileUnreadable(f"line {line}: not {facts.encoding} text ({exc.reason})") from None
        if chunk.rows or chunk.malformed:
            yield chunk

    return headers, chunks()


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(stream: IO[bytes], chunk_rows: int) -> tuple[list[str], Iterator[RawChunk]]:
    import zipfile

    from openpyxl import load_workbook

    try:
        # data_only=False: a formula cell reads as its text ("=HYPERLINK(...)"), never as a computed value.
        book = load_workbook(stream, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileUnreadable(f"not a readable XLSX workbook: {exc}") from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header: list[str] | None = None
    line = 0
    for raw in rows:
        line += 1
        cells = [_cell_text(v) for v in raw]
        if any(c.strip() for c in cells):
            header = cells
            break
    if header is None:
        book.close()
        raise FileUnreadable("empty workbook: the first sheet has no header row")
    headers = _unique_headers(header)
    width = len(headers)
    header_line = line

    def chunks() -> Iterator[RawChunk]:
        chunk = RawChunk([], [])
        current = header_line
        for raw in rows:
            current += 1
            cells = [_cell_text(v) for v in raw]
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > width:
                if any(c.strip() for c in cells[width:]):
                    chunk.malformed.append(
                        (current, f"row has {len(cells)} cells, the header has {width}", cells)
                    )
                    continue
                cells = cells[:width]
            cells += [""] * (width - len(cells))
            chunk.rows.append(cells)
            chunk.lines.append(current)
            if len(chunk.rows) >= chunk_rows:
                yield chunk
                chunk = RawChunk([], [])
        book.close()
        if chunk.rows or chunk.malformed:
            yield chunk

    return headers, chunks()
