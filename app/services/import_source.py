"""What an import file reader gives (a ``Table``) and the limits every reader keeps.

An import file comes from outside: a 764 KB XLSX upload once held a 314 MB text table
(1.8 GB of worker memory, minutes of CPU), another twenty million empty rows. So the
readers (``import_csv``, ``import_xlsx``) check these limits while they stream, and stop
at the first one passed with a problem that names it:

- the file itself: ``max_bytes`` (MAX_IMPORT_BYTES), a 413;
- an XLSX archive: each part's uncompressed size (worksheets, the shared-strings
  table, every other part), all parts together, and each part's compression ratio
  (a part that inflates more than ``max_ratio`` times is a bomb, not a spreadsheet),
  at most ``max_parts`` parts: a 413;
- content: rows below the header, empty ones too (``max_rows``, MAX_IMPORT_ROWS);
  characters in a cell (32,767, Excel's own limit); columns; a CSV line's length;
  shared strings: a 422.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from app.services.errors import Invalid, ServiceError

MiB = 1024 * 1024


class FileTooLarge(ServiceError):
    status, title, slug = 413, "Request too large", "request-too-large"


@dataclass(frozen=True)
class ImportLimits:
    max_bytes: int = 50 * MiB
    max_rows: int = 500_000
    max_columns: int = 2_000
    max_cell_chars: int = 32_767  # what an Excel cell can hold
    max_line_chars: int = 1 * MiB  # a CSV line, in characters
    max_sheet_bytes: int = 1024 * MiB  # a worksheet's XML, streamed
    max_shared_strings_bytes: int = 128 * MiB  # the text table, held in memory (compactly)
    max_shared_strings: int = 4_000_000
    max_part_bytes: int = 32 * MiB  # any other part (styles, workbook, relationships…)
    max_total_bytes: int = 1280 * MiB  # every part together
    max_ratio: int = 100  # uncompressed / compressed, for parts past ``ratio_grace_bytes``
    ratio_grace_bytes: int = 1 * MiB
    max_parts: int = 10_000

    @classmethod
    def from_settings(cls, settings: Any) -> ImportLimits:
        return cls(max_bytes=settings.max_import_bytes, max_rows=settings.max_import_rows)


DEFAULT_LIMITS = ImportLimits()


def size_text(size: int) -> str:
    if size % MiB == 0:
        return f"{size // MiB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size:,} bytes"


def too_many_rows(limits: ImportLimits) -> Invalid:
    return Invalid(
        f"the file has more than {limits.max_rows:,} rows below the header (empty rows "
        "count too; the limit is the setting MAX_IMPORT_ROWS): split it"
    )


def cell_too_long(limits: ImportLimits, where: str) -> Invalid:
    return Invalid(
        f"{where} holds more than {limits.max_cell_chars:,} characters, more than a "
        "spreadsheet cell can: shorten it"
    )


def file_too_large(limits: ImportLimits) -> FileTooLarge:
    return FileTooLarge(
        f"the file is larger than {size_text(limits.max_bytes)} (the setting "
        "MAX_IMPORT_BYTES): split it"
    )


class Table:
    """A header row and an iterator of (row number, cell values)."""

    def __init__(self, header: list[Any], rows: Iterator[tuple[int, list[Any]]]) -> None:
        self.header = header
        self.rows = rows
        self.total: int | None = None  # data rows, when the file says (for progress)


def column_letter(number: int) -> str:
    """A spreadsheet's name for the ``number``-th column (1 is A, 27 is AA), as a
    message about a cell gives it."""
    # Imported here: openpyxl costs a process a quarter of a second to import, and
    # only a message about a particular cell needs it (a server or command starts
    # without it; an XLSX import imports it anyway).
    from openpyxl.utils import get_column_letter

    letter: str = get_column_letter(number)
    return letter
