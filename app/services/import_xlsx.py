"""Reading an import XLSX within the limits of ``import_source``, without inflating it whole.

An XLSX is a zip archive of XML parts, and a zip part can inflate a thousandfold: a
764 KB upload once held a 314 MB shared-strings table that openpyxl parsed into
1.8 GB of memory. So:

1. the archive's directory is checked before anything is inflated: at most
   ``max_parts`` parts (counted from the end record, before the directory is parsed),
   each part's declared size within the limit of its kind, all of them together
   within ``max_total_bytes``, and no part past ``ratio_grace_bytes`` that inflates
   more than ``max_ratio`` times;
2. every part is then read through ``GuardedZip``, which counts the bytes as they are
   inflated and stops at the same limits, whatever the directory said;
3. the shared-strings table is parsed by streaming (expat) into one compact buffer
   (``SharedStrings``), not into a Python string per entry, each entry at most
   ``max_cell_chars`` long;
4. the worksheet streams through ``SheetParser`` (``import_sheet``), which counts every
   row, empty ones too, and stops a cell at ``max_cell_chars``.

Workbook structure, styles and the date epoch still come from openpyxl, reading
through the guarded archive.
"""

from __future__ import annotations

import io
import zipfile
from array import array
from typing import IO, Any, Literal
from xml.parsers import expat

from app.services.errors import Invalid, ServiceError
from app.services.import_sheet import SheetParser
from app.services.import_source import (
    FileTooLarge,
    ImportLimits,
    Table,
    cell_too_long,
    size_text,
)

SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)
_CHUNK = 1 << 20
_END_RECORD = b"PK\x05\x06"
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_END_RECORD = b"PK\x06\x06"


def _part_limit(name: str, limits: ImportLimits) -> tuple[int, str]:
    lower = name.lower()
    if lower.startswith("xl/worksheets/"):
        return limits.max_sheet_bytes, "a worksheet"
    if lower.endswith("sharedstrings.xml"):
        return limits.max_shared_strings_bytes, "the shared-strings table"
    return limits.max_part_bytes, "a part"


def _too_large(what: str) -> FileTooLarge:
    return FileTooLarge(
        f"{what}: the workbook inflates far beyond any table of enterprises; "
        "save it again from a spreadsheet program, or split it"
    )


# ---------------------------------------------------------------------- the archive


def count_parts(stream: IO[bytes]) -> int | None:
    """The number of parts the zip's end record declares (None if there is no end record:
    then zipfile reports the damage)."""
    stream.seek(0, io.SEEK_END)
    size = stream.tell()
    tail_size = min(size, 22 + 0xFFFF)  # the end record, and a comment of up to 64 KiB
    stream.seek(size - tail_size)
    tail = stream.read(tail_size)
    at = tail.rfind(_END_RECORD)
    if at < 0 or len(tail) - at < 22:
        return None
    entries = int.from_bytes(tail[at + 10 : at + 12], "little")
    if entries != 0xFFFF:
        return entries
    locator = at - 20  # a zip64 archive: its own end record says
    if locator < 0 or tail[locator : locator + 4] != _ZIP64_LOCATOR:
        return entries
    stream.seek(int.from_bytes(tail[locator + 8 : locator + 16], "little"))
    record = stream.read(56)
    if record[:4] != _ZIP64_END_RECORD:
        return None
    return int.from_bytes(record[32:40], "little")


def check_directory(archive: zipfile.ZipFile, limits: ImportLimits) -> None:
    """Refuse, before inflating anything, what the directory already shows too large."""
    total = 0
    for info in archive.infolist():
        limit, kind = _part_limit(info.filename, limits)
        if info.file_size > limit:
            raise _too_large(
                f"{info.filename} ({kind}) inflates to {info.file_size:,} bytes, "
                f"more than {size_text(limit)}"
            )
        if info.file_size > limits.ratio_grace_bytes and info.file_size > limits.max_ratio * max(
            info.compress_size, 1
        ):
            raise _too_large(
                f"{info.filename} inflates {info.file_size // max(info.compress_size, 1):,} "
                f"times (at most {limits.max_ratio} is accepted)"
            )
        total += info.file_size
    if total > limits.max_total_bytes:
        raise _too_large(
            f"its parts inflate to {total:,} bytes together, more than "
            f"{size_text(limits.max_total_bytes)}"
        )


class _GuardedPart(io.RawIOBase):
    """A part being inflated, counted against its limits as the bytes come out."""

    def __init__(self, raw: IO[bytes], info: zipfile.ZipInfo, archive: GuardedZip) -> None:
        super().__init__()
        self._raw, self._info, self._archive = raw, info, archive
        self._limit, self._kind = _part_limit(info.filename, archive.limits)
        self.inflated = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        count = len(data)
        buffer[:count] = data
        self._count(count)
        return count

    def _count(self, count: int) -> None:
        limits, name = self._archive.limits, self._info.filename
        self.inflated += count
        self._archive.inflated += count
        if self.inflated > self._limit:
            raise _too_large(f"{name} ({self._kind}) inflates past {size_text(self._limit)}")
        if self.inflated > limits.ratio_grace_bytes and self.inflated > limits.max_ratio * max(
            self._info.compress_size, 1
        ):
            raise _too_large(f"{name} inflates more than {limits.max_ratio} times")
        if self._archive.inflated > limits.max_total_bytes:
            raise _too_large(f"its parts inflate past {size_text(limits.max_total_bytes)}")

    def close(self) -> None:
        self._raw.close()
        super().close()


class GuardedZip(zipfile.ZipFile):
    """A zip archive whose parts are counted while they inflate (``_GuardedPart``)."""

    def __init__(self, file: IO[bytes], limits: ImportLimits) -> None:
        super().__init__(file)
        self.limits = limits
        self.inflated = 0

    def open(
        self,
        name: str | zipfile.ZipInfo,
        mode: Literal["r", "w"] = "r",
        pwd: bytes | None = None,
        *,
        force_zip64: bool = False,
    ) -> IO[bytes]:
        raw = super().open(name, mode, pwd, force_zip64=force_zip64)
        if mode != "r":
            return raw
        info = name if isinstance(name, zipfile.ZipInfo) else self.getinfo(name)
        return io.BufferedReader(_GuardedPart(raw, info, self), buffer_size=_CHUNK)


# ---------------------------------------------------------------------- shared strings


class SharedStrings:
    """The workbook's shared strings in one UTF-8 buffer with their offsets: about the
    size of their text, where a list of Python strings costs about 50 bytes more each."""

    def __init__(self) -> None:
        self._text = bytearray()
        self._ends = array("Q")

    def append(self, text: str) -> None:
        self._text += text.encode("utf-8")
        self._ends.append(len(self._text))

    def __len__(self) -> int:
        return len(self._ends)

    def __getitem__(self, index: int) -> str:
        if not 0 <= index < len(self._ends):
            raise IndexError(index)
        start = self._ends[index - 1] if index else 0
        return self._text[start : self._ends[index]].decode("utf-8")


class _StringsParser:
    """``<si>`` entries: their ``<t>`` texts, rich-text runs included, phonetic runs
    (``<rPh>``) left out, as openpyxl's own string table reader does."""

    def __init__(self, strings: SharedStrings, limits: ImportLimits) -> None:
        self.strings, self.limits = strings, limits
        self.pieces: list[str] = []
        self.length = 0
        self.in_t = self.in_rph = False

    @staticmethod
    def _tag(name: str) -> str:
        return name.rpartition("}")[2].rpartition(":")[2]

    def start(self, name: str, _attrs: dict[str, str]) -> None:
        tag = self._tag(name)
        if tag == "si":
            self.pieces, self.length = [], 0
        elif tag == "t":
            self.in_t = not self.in_rph
        elif tag == "rPh":
            self.in_rph = True

    def chars(self, data: str) -> None:
        if self.in_t:
            self.length += len(data)
            if self.length > self.limits.max_cell_chars:
                raise cell_too_long(
                    self.limits, f"text number {len(self.strings) + 1} of the workbook"
                )
            self.pieces.append(data)

    def end(self, name: str) -> None:
        tag = self._tag(name)
        if tag == "t":
            self.in_t = False
        elif tag == "rPh":
            self.in_rph = False
        elif tag == "si":
            if len(self.strings) >= self.limits.max_shared_strings:
                raise Invalid(
                    f"the workbook holds more than {self.limits.max_shared_strings:,} "
                    "different texts: split it"
                )
            self.strings.append("".join(self.pieces).replace("x005F_", ""))


def read_shared_strings(archive: GuardedZip, path: str, limits: ImportLimits) -> SharedStrings:
    strings = SharedStrings()
    handler = _StringsParser(strings, limits)
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.chars
    with archive.open(path) as source:
        while True:
            chunk = source.read(_CHUNK)
            try:
                parser.Parse(chunk, not chunk)
            except expat.ExpatError as exc:
                raise Invalid(f"the workbook's text table is damaged: {exc}") from None
            if not chunk:
                return strings


# ---------------------------------------------------------------------- the workbook


def xlsx_table(stream: IO[bytes], limits: ImportLimits) -> Table:
    from openpyxl.reader.excel import ExcelReader
    from openpyxl.styles.stylesheet import apply_stylesheet

    parts = count_parts(stream)
    if parts is not None and parts > limits.max_parts:
        raise _too_large(f"the archive has {parts:,} parts, more than {limits.max_parts:,}")
    stream.seek(0)
    try:
        reader = ExcelReader(stream, read_only=True, data_only=True)
        reader.archive.close()
        # Every part openpyxl reads from here on is inflated through the guard.
        archive = GuardedZip(stream, limits)
        check_directory(archive, limits)
        reader.archive, reader.valid_files = archive, archive.namelist()
        reader.read_manifest()
        strings_part = reader.package.find(SHARED_STRINGS_TYPE)
        shared = (
            read_shared_strings(archive, strings_part.PartName[1:], limits)
            if strings_part is not None
            else SharedStrings()
        )
        reader.read_workbook()
        apply_stylesheet(reader.archive, reader.wb)
        sheets = [
            rel.target
            for _sheet, rel in reader.parser.find_sheets()
            if "worksheet" in rel.Type and rel.target in reader.valid_files
        ]
    except ServiceError:
        raise
    except Exception as exc:  # a damaged workbook fails in many ways inside openpyxl
        raise Invalid(f"the file is not a readable .xlsx workbook ({exc})") from None
    if not sheets:
        raise Invalid("the workbook has no worksheet")
    wb = reader.wb
    table = Table([], iter(()))
    sheet = SheetParser(table, shared, wb._date_formats, wb._timedelta_formats, wb.epoch, limits)
    rows = sheet.stream(archive, sheets[0])
    first = next(rows, None)
    if first is None:
        raise Invalid("the worksheet is empty: its first row must hold the column headers")
    number, header = first
    if number != 1:
        raise Invalid(
            f"the first row must hold the column headers; row 1 is empty (found row {number})"
        )
    table.header, table.rows = header, rows
    return table
