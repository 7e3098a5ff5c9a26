"""Hostile import files, written part by part so that none is ever whole in memory.

``workbook`` builds a minimal but valid XLSX (content types, relationships, one
worksheet and, if given, a shared-strings table) from iterables of XML pieces, so a
test can make a part of hundreds of megabytes that compresses to a few hundred
kilobytes, or one with millions of rows.
"""

from __future__ import annotations

import io
import itertools
import random
import string
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)


def _content_types(shared: bool) -> bytes:
    overrides = [
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet.main+xml"/>',
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
        'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>',
    ]
    if shared:
        overrides.append(
            f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_STRINGS_TYPE}"/>'
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        + "".join(overrides)
        + "</Types>"
    ).encode()


def _relationships(shared: bool) -> tuple[bytes, bytes]:
    package = (
        f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
        f'Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'
    ).encode()
    workbook = (
        f'<Relationships xmlns="{PACKAGE_RELS}"><Relationship Id="rId1" '
        f'Type="{RELS}/worksheet" Target="worksheets/sheet1.xml"/>'
        + (
            f'<Relationship Id="rId2" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
            if shared
            else ""
        )
        + "</Relationships>"
    ).encode()
    return package, workbook


WORKBOOK = (
    f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><sheets>'
    '<sheet name="企业" sheetId="1" r:id="rId1"/></sheets></workbook>'
).encode()


def _write(archive: zipfile.ZipFile, name: str, pieces: Iterable[bytes]) -> None:
    with archive.open(name, "w", force_zip64=True) as part:
        for piece in pieces:
            part.write(piece)


def workbook(
    path: Path,
    sheet_rows: Iterable[bytes],
    shared_strings: Iterable[bytes] | None = None,
) -> Path:
    """Write an XLSX to ``path``: ``sheet_rows`` are the ``<row>`` elements of the one
    worksheet; ``shared_strings`` the ``<si>`` elements of its string table, if any."""
    shared = shared_strings is not None
    package_rels, workbook_rels = _relationships(shared)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        archive.writestr("[Content_Types].xml", _content_types(shared))
        archive.writestr("_rels/.rels", package_rels)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", workbook_rels)
        sheet_head = f'<worksheet xmlns="{MAIN}"><sheetData>'.encode()
        _write(
            archive,
            "xl/worksheets/sheet1.xml",
            itertools.chain([sheet_head], sheet_rows, [b"</sheetData></worksheet>"]),
        )
        if shared_strings is not None:
            table_head = f'<sst xmlns="{MAIN}">'.encode()
            _write(
                archive,
                "xl/sharedStrings.xml",
                itertools.chain([table_head], shared_strings, [b"</sst>"]),
            )
    return path


def inline_row(number: int, *texts: str) -> bytes:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="inlineStr"><is><t>{text}</t></is></c>'
        for i, text in enumerate(texts)
    )
    return f'<row r="{number}">{cells}</row>'.encode()


def shared_row(number: int, *indexes: int) -> bytes:
    cells = "".join(
        f'<c r="{chr(65 + i)}{number}" t="s"><v>{index}</v></c>' for i, index in enumerate(indexes)
    )
    return f'<row r="{number}">{cells}</row>'.encode()


def shared_strings_bomb(path: Path, megabytes: int) -> Path:
    """A shared-strings table of ``megabytes`` MB of tiny strings (the finding: a 764 KB
    upload whose table was 314 MB); the sheet refers to its first two strings."""
    filler = b"<si><t>x</t></si>" * 61_681  # about 1 MB
    strings = [b"<si><t>uscc</t></si><si><t>name</t></si>", *([filler] * megabytes)]
    return workbook(path, [shared_row(1, 0, 1)], strings)


def empty_rows(path: Path, count: int) -> Path:
    """A header row, then ``count`` numbered rows with nothing in them."""

    def rows() -> Iterator[bytes]:
        yield inline_row(1, "uscc", "name")
        batch = 10_000
        for start in range(2, count + 2, batch):
            stop = min(start + batch, count + 2)
            yield b"".join(b'<row r="%d"/>' % n for n in range(start, stop))

    return workbook(path, rows())


def empty_rows_bomb(path: Path, millions: int) -> Path:
    """A header row, then ``millions`` million empty ``<row/>`` elements (the finding: 20
    million empty rows were never counted against the row limit)."""
    block = b"<row/>" * 100_000
    return workbook(path, [inline_row(1, "uscc", "name"), *([block] * (10 * millions))])


def random_text(length: int, seed: int = 7) -> str:
    """Letters that do not compress much (so the compression ratio stays plausible)."""
    rng = random.Random(seed)
    return "".join(rng.choices(string.ascii_letters, k=length))


def long_cell(path: Path, length: int, *, shared: bool) -> Path:
    """A header and one row whose name cell holds ``length`` characters."""
    text = random_text(length)
    uscc = "91320115MA1W9KXT49"
    if shared:
        strings = [f"<si><t>{t}</t></si>".encode() for t in ("uscc", "name", uscc, text)]
        return workbook(path, [shared_row(1, 0, 1), shared_row(2, 2, 3)], strings)
    return workbook(path, [inline_row(1, "uscc", "name"), inline_row(2, uscc, text)])


def as_bytes(path: Path) -> bytes:
    return path.read_bytes()


def csv_with_long_line(length: int) -> bytes:
    out = io.StringIO()
    out.write("uscc,name\n")
    out.write("91320115MA1W9KXT49," + random_text(length) + "\n")
    return out.getvalue().encode()


def understate(path: Path, part: str, declared: int) -> Path:
    """Make the archive's directory say that ``part`` inflates to ``declared`` bytes."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        offset = archive.start_dir
        for info in archive.infolist():
            name_length = int.from_bytes(data[offset + 28 : offset + 30], "little")
            extra_length = int.from_bytes(data[offset + 30 : offset + 32], "little")
            comment_length = int.from_bytes(data[offset + 32 : offset + 34], "little")
            if info.filename == part:
                data[offset + 24 : offset + 28] = declared.to_bytes(4, "little")
                if extra_length:  # a zip64 extra field carries the true size: drop it
                    data[offset + 30 : offset + 32] = (0).to_bytes(2, "little")
                    name_end = offset + 46 + name_length
                    del data[name_end : name_end + extra_length]
                    directory_size_at = data.rfind(b"PK\x05\x06") + 12
                    size = int.from_bytes(data[directory_size_at : directory_size_at + 4], "little")
                    data[directory_size_at : directory_size_at + 4] = (
                        size - extra_length
                    ).to_bytes(4, "little")
                    extra_length = 0
            offset += 46 + name_length + extra_length + comment_length
    path.write_bytes(bytes(data))
    return path


def many_parts(path: Path, count: int) -> Path:
    """A small valid workbook with ``count`` extra empty parts."""
    workbook(path, [inline_row(1, "uscc", "name")])
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as archive:
        for n in range(count):
            archive.writestr(f"customXml/item{n}.xml", b"")
    return path
