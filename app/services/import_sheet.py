"""Streaming an XLSX worksheet's cells with expat (about 3x openpyxl's per-cell speed).

``SheetParser`` mirrors openpyxl's ``WorkSheetParser.parse_cell`` for values only
(``data_only``): numbers, shared and inline strings, booleans, errors, ISO dates and
numbers in a date style. It keeps the limits of ``import_source`` as the XML streams
past: every ``<row>`` counts against the row limit, empty ones too, and a cell's text
stops at ``max_cell_chars``, so a 200 MB cell is refused after 32,767 characters instead
of being joined up in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol
from xml.parsers import expat

from app.services.errors import Invalid
from app.services.import_source import ImportLimits, Table, cell_too_long, too_many_rows

_CHUNK = 1 << 20


def _column_number(letters: str) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + (ord(ch) - 64)
    return number


def _column_letters(number: int) -> str:
    letters = ""
    while number > 0:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


class Strings(Protocol):
    """The workbook's shared strings, by index (``import_xlsx.SharedStrings``)."""

    def __getitem__(self, index: int, /) -> str: ...


class SheetParser:
    def __init__(
        self,
        table: Table,
        shared: Strings,
        date_styles: Any,
        timedelta_styles: Any,
        epoch: datetime,
        limits: ImportLimits,
    ) -> None:
        from openpyxl.utils.datetime import from_excel, from_ISO8601

        self.table, self.shared, self.epoch, self.limits = table, shared, epoch, limits
        self.date_styles, self.timedelta_styles = date_styles, timedelta_styles
        self.from_excel, self.from_iso = from_excel, from_ISO8601
        self.done: list[tuple[int, list[Any]]] = []
        self.rows_seen = 0
        self.row_no = 0
        self.cells: list[Any] = []
        self.col = 0
        self.ctype = "n"
        self.style = 0
        self.value: str | None = None
        self.text: list[str] | None = None  # the pieces of the <v> or <t> being read
        self.length = 0  # characters of the cell's text so far
        self.pieces: list[str] = []
        self.in_is = self.in_rph = False
        self.tags: dict[str, str] = {}
        self.letters: dict[str, int] = {}

    def _tag(self, name: str) -> str:
        tag = self.tags.get(name)
        if tag is None:
            tag = self.tags[name] = name.rpartition("}")[2].rpartition(":")[2]
        return tag

    def start(self, name: str, attrs: dict[str, str]) -> None:
        tag = self.tags.get(name) or self._tag(name)
        if tag == "c":
            ref = attrs.get("r")
            if ref:
                letters = ref.rstrip("0123456789")
                col = self.letters.get(letters)
                if col is None:
                    col = self.letters[letters] = _column_number(letters)
                self.col = col
            else:
                self.col += 1
            self.ctype = attrs.get("t", "n")
            style = attrs.get("s")
            self.style = int(style) if style and style.isdigit() else 0
            self.value = None
            self.length = 0
        elif tag == "v":
            self.text = []
        elif tag == "t":
            if self.in_is and not self.in_rph:
                self.text = []
        elif tag == "row":
            self.rows_seen += 1
            if self.rows_seen > self.limits.max_rows + 1:  # the header row, then the rows
                raise too_many_rows(self.limits)
            r = attrs.get("r")
            self.row_no = int(r) if r and r.isdigit() else self.row_no + 1
            self.cells = []
            self.col = 0
        elif tag == "is":
            self.in_is, self.pieces = True, []
        elif tag == "rPh":
            self.in_rph = True
        elif tag == "dimension":
            ref = attrs.get("ref", "")
            last = ref.rpartition(":")[2].lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            if last.isdigit():
                self.table.total = max(int(last) - 1, 0)

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.length += len(data)
            if self.length > self.limits.max_cell_chars:
                where = f"the cell in row {self.row_no}, column {_column_letters(self.col)}"
                raise cell_too_long(self.limits, where)
            self.text.append(data)

    def end(self, name: str) -> None:
        tag = self.tags.get(name) or self._tag(name)
        if tag == "c":
            value = self._cell_value()
            if value is not None:
                index = self.col - 1
                if index >= self.limits.max_columns:
                    raise Invalid(
                        f"the worksheet has more than {self.limits.max_columns:,} columns"
                    )
                cells = self.cells
                if index >= len(cells):
                    cells.extend([None] * (index + 1 - len(cells)))
                cells[index] = value
        elif tag == "v":
            self.value = "".join(self.text) if self.text is not None else None
            self.text = None
        elif tag == "t":
            if self.text is not None:
                self.pieces.append("".join(self.text))
                self.text = None
        elif tag == "row":
            if self.cells:  # an empty row was counted above; nothing else to keep of it
                self.done.append((self.row_no, self.cells))
            self.cells = []
        elif tag == "is":
            self.in_is = False
            self.value = "".join(self.pieces)
        elif tag == "rPh":
            self.in_rph = False

    def _cell_value(self) -> Any:
        value, ctype = self.value, self.ctype
        if not value:  # no <v>, or an empty one: an empty cell, as openpyxl reads it
            return None
        if ctype == "s":
            try:
                return self.shared[int(value)]
            except (ValueError, IndexError):
                return "#REF!"
        if ctype == "n":
            # A float, deliberately, as openpyxl reads it: the sheet stores an IEEE
            # double and writes it with up to 17 digits (a typed 0.3 may be written
            # 0.29999999999999999). ``import_columns`` hands it on as ``repr``, the
            # shortest text that is the same double, so the amount checked and kept as
            # a Decimal is the 0.3 the person typed, not the double's expansion.
            try:
                number: int | float = (
                    float(value) if "." in value or "E" in value or "e" in value else int(value)
                )
            except ValueError:
                return "#VALUE!"
            if self.style in self.date_styles:
                try:
                    return self.from_excel(
                        number, self.epoch, timedelta=self.style in self.timedelta_styles
                    )
                except (OverflowError, ValueError):
                    return "#VALUE!"
            return number
        if ctype == "b":
            return value.strip() in ("1", "true")
        if ctype == "d":
            try:
                return self.from_iso(value)
            except ValueError:
                return "#VALUE!"
        return value  # "str" (a formula's text), "inlineStr", "e" (an error such as #N/A)

    def stream(self, archive: Any, part: str) -> Iterator[tuple[int, list[Any]]]:
        """The worksheet's non-empty rows as (row number, cells), a megabyte of XML at a time."""
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.chars
        source = archive.open(part)
        try:
            while True:
                chunk = source.read(_CHUNK)
                try:
                    parser.Parse(chunk, not chunk)
                except expat.ExpatError as exc:
                    raise Invalid(f"the worksheet's XML is damaged: {exc}") from None
                if self.done:
                    rows, self.done = self.done, []
                    yield from rows
                if not chunk:
                    return
        finally:
            source.close()
            archive.close()
