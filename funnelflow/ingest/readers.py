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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import IO

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # legacy .xls / .doc
# What an XLSX may inflate to by default: a million rows by twenty columns is about 0.7 GB of sheet XML.
DEFAULT_MAX_INFLATED_MB = 1024
# How a reject for a line in another encoding than its UTF-8 file starts (replay recognises it).
NOT_UTF8_REASON = "is not UTF-8 like the rest of the file"
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
    # Lines (with non-ASCII bytes) that are not in ``encoding`` while the rest of the file is: each is
    # rejected with its reason instead of the whole file being decoded as something it mostly is not.
    foreign_lines: int = 0


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
    foreign = 0
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif has_nul:
        raise FileUnreadable("binary content (NUL bytes), not a text export; export the list as CSV or XLSX")
    elif utf8_ok:
        encoding = "utf-8-sig" if sample.startswith(codecs.BOM_UTF8) else "utf-8"
    elif sample.startswith(codecs.BOM_UTF8):
        encoding, foreign = "utf-8-sig", _count_utf8_lines(stream)[1]
    # Only a file that is not all UTF-8 is read a second time, line by line: UTF-8 files pay nothing.
    elif (counted := _count_utf8_lines(stream))[0] >= counted[1]:
        # Mostly UTF-8 with some lines in another encoding (one pasted from an old export): the file stays
        # UTF-8 and those lines are rejected, never the other way round.
        encoding, foreign = "utf-8", counted[1]
    else:
        encoding = "cp1252" if _decodes(sample, "cp1252") else "latin-1"
        foreign = counted[0]  # UTF-8 lines in a cp1252 file would be stored garbled ("JÃ¼rgen")
    text = sample.decode(encoding, errors="ignore")
    if _looks_binary(text):
        raise FileUnreadable(
            "binary content (control characters), not a text export; export the list as CSV or XLSX"
        )
    return FileFacts(content_hash, size, "csv", encoding, _detect_delimiter(text), foreign)


def _count_utf8_lines(stream: IO[bytes]) -> tuple[int, int]:
    """(lines with non-ASCII bytes that are valid UTF-8, lines that are not), reading the stream again.

    Read in blocks, so a file without line breaks never sits in memory whole (a line is cut at 1 MB).
    """
    try:
        stream.seek(0)
    except (AttributeError, OSError, ValueError):
        return 0, 1  # cannot read it twice: decoded as a whole in the fallback encoding, as before
    good = bad = 0
    tail = b""
    while True:
        block = stream.read(1024 * 1024)
        data = tail + block
        if block:
            cut = data.rfind(b"\n") + 1
            lines, tail = (data[:cut], data[cut:]) if cut else (b"", data)
            if len(tail) >= 1024 * 1024:
                lines, tail = data, b""
        else:
            lines, tail = data, b""
        if not lines.isascii():
            for line in lines.split(b"\n"):
                if line.isascii():
                    continue
                try:
                    line.decode("utf-8")
                    good += 1
                except UnicodeDecodeError:
                    bad += 1
        if not block:
            return good, bad


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
    foreign: set[int] = set()  # physical lines not in the file's encoding (only when inspect_file found some)
    if facts.foreign_lines:
        lines: Iterable[str] = _lines_marking_foreign(stream, facts.encoding or "utf-8", foreign)
    else:
        lines = io.TextIOWrapper(stream, encoding=facts.encoding or "utf-8", newline="", errors="strict")
    reader = csv.reader(lines, delimiter=facts.delimiter or ",")
    try:
        header = next((row for row in reader if any(cell.strip() for cell in row)), None)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise FileUnreadable(f"header row cannot be read: {exc}") from None
    if header is None:
        raise FileUnreadable("empty file: no header row and no data")
    if foreign:
        raise FileUnreadable(f"header row is not {facts.encoding} text like the rest of the file")
    headers = _unique_headers(header)
    width = len(headers)

    def chunks() -> Iterator[RawChunk]:
        chunk = RawChunk([], [])
        line = reader.line_num + 1
        try:
            for row in reader:
                start, line = line, reader.line_num + 1
                if not "".join(row).strip():  # blank record (one C-level join, not a generator per row)
                    continue
                if foreign and not foreign.isdisjoint(range(start, line)):
                    bad = min(foreign.intersection(range(start, line)))
                    foreign.difference_update(range(start, line))
                    chunk.malformed.append((start, _foreign_reason(bad, facts.encoding), _as_arrived(row)))
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


def _lines_marking_foreign(stream: IO[bytes], encoding: str, foreign: set[int]) -> Iterator[str]:
    """The file's physical lines as text; the number of each line not in ``encoding`` goes into ``foreign``.

    In a UTF-8 file such a line is decoded with its stray bytes kept as escapes (``surrogateescape``); in a
    cp1252 file a line that is UTF-8 is decoded as UTF-8. Either way the row it belongs to is rejected.
    """
    utf8 = encoding in ("utf-8", "utf-8-sig")
    for number, raw in enumerate(stream, start=1):
        if number == 1 and encoding == "utf-8-sig" and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if raw.isascii():
            yield raw.decode("ascii")
            continue
        try:
            as_utf8: str | None = raw.decode("utf-8")
        except UnicodeDecodeError:
            as_utf8 = None
        if utf8 and as_utf8 is not None:
            yield as_utf8
            continue
        if not utf8:
            try:
                text = raw.decode(encoding)
                if as_utf8 is None:
                    yield text
                    continue
            except UnicodeDecodeError:
                pass
        foreign.add(number)
        yield as_utf8 if as_utf8 is not None else raw.decode("utf-8", "surrogateescape")


def _foreign_reason(line: int, encoding: str | None) -> str:
    if encoding in ("utf-8", "utf-8-sig"):
        return (
            f"line {line} {NOT_UTF8_REASON} (another encoding, e.g. cp1252); "
            "its bytes are kept as \\xNN in the raw row"
        )
    return f"line {line} is UTF-8 text while the rest of the file is {encoding}"


def _as_arrived(row: list[str]) -> list[str]:
    """Cells with the bytes that were not text shown as ``\\xNN``
    (the raw row of a reject must be storable)."""
    return [cell.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace") for cell in row]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def inflation_limit() -> int:
    """Bytes an XLSX may inflate to, all its parts together (``FUNNELFLOW_INGEST_MAX_INFLATED_MB``)."""
    from funnelflow import settings

    return settings.env_int("FUNNELFLOW_INGEST_MAX_INFLATED_MB", DEFAULT_MAX_INFLATED_MB) * 1024 * 1024


class _InflationLimit(FileUnreadable):
    pass


class _CountingReader(io.RawIOBase):
    """One part of the workbook, read through: every inflated byte is counted against the archive's limit."""

    def __init__(self, part: IO[bytes], name: str, archive: _BoundedArchive) -> None:
        self._part = part
        self._name = name
        self._archive = archive
        self._read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        data = self._part.read(min(len(buffer), 1024 * 1024))
        self._read += len(data)
        self._archive.count(self._name, self._read)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._part.close()
        super().close()


class _BoundedArchive:
    """The workbook's zip archive as openpyxl sees it, with a limit on what it may inflate to.

    A zip bomb declares small sizes or huge ones; both are caught: the declared sizes are checked before
    anything is read, and the bytes are counted while they are read (each part once: openpyxl opens a
    sheet twice, once for its dimensions).
    """

    def __init__(self, archive, limit: int) -> None:
        self._archive = archive
        self.filename = archive.filename
        self.limit = limit
        self.inflated = 0
        self._per_part: dict[str, int] = {}
        declared = sum(info.file_size for info in archive.infolist())
        if declared > limit:
            raise _InflationLimit(_too_large(declared, limit, "declares"))
        strings = next((i for i in archive.infolist() if i.filename.endswith("sharedStrings.xml")), None)
        if strings is not None and strings.file_size > limit // 4:
            # The shared strings are held in memory whole (the sheet itself streams).
            raise _InflationLimit(
                f"the workbook's shared strings declare {strings.file_size / 2**20:.0f} MB, more than "
                f"{limit / 4 / 2**20:.0f} MB (a quarter of FUNNELFLOW_INGEST_MAX_INFLATED_MB); "
                "export the list as CSV instead"
            )

    def count(self, name: str, read_so_far: int) -> None:
        before = self._per_part.get(name, 0)
        if read_so_far > before:
            self._per_part[name] = read_so_far
            self.inflated += read_so_far - before
            if self.inflated > self.limit:
                raise _InflationLimit(_too_large(self.inflated, self.limit, "inflates to over"))

    def open(self, name, mode: str = "r"):
        key = name if isinstance(name, str) else name.filename
        return io.BufferedReader(_CountingReader(self._archive.open(name, mode), key, self))

    def read(self, name) -> bytes:
        with self.open(name) as part:
            return part.read()

    def __getattr__(self, name: str):  # namelist, infolist, close, ...
        return getattr(self._archive, name)


def _too_large(size: int, limit: int, verb: str) -> str:
    return (
        f"the workbook {verb} {size / 2**20:.0f} MB uncompressed, "
        f"more than the limit of {limit / 2**20:.0f} MB "
        "(FUNNELFLOW_INGEST_MAX_INFLATED_MB): a damaged file or a zip bomb; export the list as CSV"
    )


def _sheet_rows(sheet) -> Iterator[tuple]:
    """The sheet's rows; a part that is damaged (or lies about its size) fails the file with the reason."""
    import zipfile

    try:
        yield from sheet.iter_rows(values_only=True)
    except FileUnreadable:
        raise
    except (zipfile.BadZipFile, EOFError, KeyError, OSError, SyntaxError, ValueError) as exc:
        raise FileUnreadable(f"the workbook's sheet is damaged: {exc}") from None


def _read_xlsx(
    stream: IO[bytes], chunk_rows: int, max_inflated: int | None = None
) -> tuple[list[str], Iterator[RawChunk]]:
    import zipfile

    from openpyxl.reader.excel import ExcelReader

    try:
        # data_only=False: a formula cell reads as its text ("=HYPERLINK(...)"), never as a computed value.
        reader = ExcelReader(stream, read_only=True, data_only=False)
        reader.archive = _BoundedArchive(reader.archive, max_inflated or inflation_limit())
        reader.read()
        book = reader.wb
    except FileUnreadable:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        if isinstance(exc.__cause__, FileUnreadable):
            raise exc.__cause__ from None
        raise FileUnreadable(f"not a readable XLSX workbook: {exc}") from None
    rows = _sheet_rows(book.worksheets[0])
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
