"""Reading an import CSV as it streams, within the limits of ``import_source``.

The file is never decoded whole: a first pass picks the encoding (a byte-order mark,
else UTF-8 if every byte decodes as UTF-8, else GB18030, which covers GBK, the usual
encoding of a CSV saved by a Chinese Excel) and counts the lines for the progress
bar; the second decodes a megabyte at a time and hands the csv module one line at a
time, each checked for length before it is parsed. Every record counts against the row
limit, empty lines too, and every cell against the cell limit.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Iterator
from typing import IO, Any

from app.services.errors import Invalid
from app.services.import_source import (
    ImportLimits,
    Table,
    cell_too_long,
    column_letter,
    too_many_rows,
)

CHUNK = 1 << 20
_LINE_END = re.compile(r"\r\n|\r|\n")


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    stream.seek(0)
    while chunk := stream.read(CHUNK):
        yield chunk


def _decodes(stream: IO[bytes], encoding: str) -> int | None:
    """The number of line feeds if the whole stream decodes in ``encoding``, else None."""
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 0
    try:
        for chunk in _chunks(stream):
            lines += decoder.decode(chunk).count("\n")
        lines += decoder.decode(b"", final=True).count("\n")
    except UnicodeDecodeError:
        return None
    return lines


def _encoding(stream: IO[bytes]) -> tuple[str, int]:
    stream.seek(0)
    head = stream.read(4)
    candidates = (
        ["utf-16"] if head.startswith((b"\xff\xfe", b"\xfe\xff")) else ["utf-8-sig", "gb18030"]
    )
    for encoding in candidates:
        lines = _decodes(stream, encoding)
        if lines is not None:
            return encoding, lines
    raise Invalid("the CSV file is neither UTF-8 nor GB18030/GBK text: save it as CSV UTF-8")


def _lines(stream: IO[bytes], encoding: str, limits: ImportLimits) -> Iterator[str]:
    """The text's lines with their line ends (``\\r\\n``, ``\\r`` or ``\\n``), each at most
    ``max_line_chars`` long: a longer one stops the import before it is parsed."""
    decoder = codecs.getincrementaldecoder(encoding)()
    pending = ""
    number = 0

    def checked(line: str) -> str:
        if len(line) > limits.max_line_chars:
            raise Invalid(
                f"line {number} of the CSV file is longer than {limits.max_line_chars:,} "
                "characters: this is not a table of enterprises"
            )
        if "\x00" in line:
            raise Invalid("the file is not a CSV text file (it holds binary data)")
        return line

    for chunk in itertools.chain(_chunks(stream), [b""]):
        final = not chunk
        pending += decoder.decode(chunk, final=final)
        start = 0
        for end in _LINE_END.finditer(pending):
            if not final and end.group() == "\r" and end.end() == len(pending):
                break  # perhaps the first half of a \r\n split across two chunks
            number += 1
            yield checked(pending[start : end.end()])
            start = end.end()
        pending = pending[start:]
        if len(pending) > limits.max_line_chars:
            number += 1
            checked(pending)  # a line that has not even ended is already too long
    if pending:
        number += 1
        yield checked(pending)


def _sniff_delimiter(first_line: str) -> str:
    if "," not in first_line:
        for candidate in ("\t", ";"):
            if candidate in first_line:
                return candidate
    return ","


def _checked_cells(values: list[str], number: int, limits: ImportLimits) -> list[str]:
    if len(values) > limits.max_columns:
        raise Invalid(f"row {number} has more than {limits.max_columns:,} columns")
    if not values or max(map(len, values)) <= limits.max_cell_chars:
        return values  # the common case, without a loop in Python
    for index, value in enumerate(values):
        if len(value) > limits.max_cell_chars:
            raise cell_too_long(
                limits, f"the cell in row {number}, column {column_letter(index + 1)}"
            )
    return values


def csv_table(stream: IO[bytes], limits: ImportLimits) -> Table:
    encoding, line_feeds = _encoding(stream)
    lines = _lines(stream, encoding, limits)
    first = next(lines, None)
    if first is None:
        raise Invalid("the file is empty: the first row must hold the column headers")
    reader = csv.reader(itertools.chain([first], lines), delimiter=_sniff_delimiter(first))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise Invalid(f"the CSV header row cannot be read: {exc}") from None
    if header is None:
        raise Invalid("the file is empty: the first row must hold the column headers")
    _checked_cells(header, 1, limits)

    def rows() -> Iterator[tuple[int, list[Any]]]:
        number = 1
        while True:
            number += 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise Invalid(f"row {number} of the CSV file cannot be read: {exc}") from None
            if number - 1 > limits.max_rows:
                raise too_many_rows(limits)
            yield number, _checked_cells(values, number, limits)

    table = Table(list(header), rows())
    table.total = max(line_feeds - 1, 0)
    return table
