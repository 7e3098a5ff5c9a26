"""The one CSV writer of the service: every export and report is written through it.

Spreadsheet programs (Excel, WPS, LibreOffice) run a cell that begins with ``=``,
``+``, ``-`` or ``@`` as a formula, so an enterprise named
``=HYPERLINK("http://x","y")`` would become a live link in an auditor's copy of
``awards.csv``. As OWASP advises for CSV injection, a *text* cell that begins with one
of those characters, a tab or a carriage return is written with a single quote in
front (``'=HYPERLINK(…)``): the programs show it as text. The stored text is the cell
without that first quote.

Numbers are data, not text: an ``int`` or a ``Decimal`` (money) is written as the
number it is, ``-12.00`` included, and is never prefixed. So a caller passes money as
``Decimal`` (not as a string it formatted itself) for it to stay a number in the
spreadsheet; a string that merely looks like a number (a name such as ``-12``) is text
and gets the quote.

Exports are UTF-8 with a byte-order mark, so Excel shows Chinese text.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

#: What makes a spreadsheet program read a cell as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
_ROWS_PER_CHUNK = 500


def cell(value: Any) -> str:
    """The text of one cell: numbers as numbers, text neutralised, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number a CSV cell can hold")
        return format(value, "f")  # never an exponent: 1E+2 would be read as text
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} is not a number a CSV cell can hold")
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _row(values: Sequence[Any]) -> list[str]:
    return [cell(v) for v in values]


def write_csv(out: IO[str], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a CSV document (with the byte-order mark) to a text stream; the rows written.

    Open the file with ``newline=""`` (the csv module writes its own line ends).
    """
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow(_row(header))
    count = 0
    for count, values in enumerate(rows, 1):  # noqa: B007 (the count is the answer)
        writer.writerow(_row(values))
    return count


def csv_stream(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The same document as UTF-8 bytes, a few hundred rows per chunk (for a streamed body)."""
    yield BOM.encode()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(_row(header))
    for i, values in enumerate(rows, 1):
        writer.writerow(_row(values))
        if i % _ROWS_PER_CHUNK == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")
