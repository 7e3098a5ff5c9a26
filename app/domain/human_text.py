"""What makes text unfit to show back to people: the one check behind every field a
person writes (names, reasons, objections, key labels).

Such text is shown back in the API, in CSV exports opened in Excel and in terminals
(``incentives keys list``), so it may not carry characters that change how other text
is shown rather than being shown themselves:

- control characters, C0 (ESC starts a terminal escape sequence; NUL, line breaks and
  tabs included) and C1 (U+0080–U+009F, also read as escapes by some terminals);
- format characters: the right-to-left overrides and isolates (U+202A–U+202E,
  U+2066–U+2069) that make "txt.exe" read as "exe.txt", zero-width spaces and
  joiners, the byte-order mark;
- line and paragraph separators (U+2028, U+2029), and lone surrogates.

Text that is only whitespace (ideographic space U+3000 included) says nothing and is
refused too. Ordinary spaces, CJK punctuation and every letter of every script pass.
Longer prose (a reason, an objection) may also hold line breaks: ``paragraphs``
normalises them to ``\n`` and checks the lines.
"""

from __future__ import annotations

import unicodedata

#: Unicode general categories refused: control, format, surrogate, line and paragraph separator.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def text_problem(value: str) -> str | None:
    """Why ``value`` is not acceptable human text, or None."""
    # Fast path: a printable string has no character of the refused categories
    # (``isprintable`` is false for them all, and also for harmless spaces like U+3000).
    if not value.isprintable():
        for character in value:
            if unicodedata.category(character) in _REFUSED_CATEGORIES:
                code = f"U+{ord(character):04X}"
                name = unicodedata.name(character, "")
                return (
                    f"contains {code}{f' ({name})' if name else ''}, an invisible control or "
                    "formatting character (a terminal escape, a line break, a right-to-left "
                    "override or a zero-width mark): remove it"
                )
    if not value.strip():
        return "is only whitespace: write the text itself"
    return None


def paragraphs(value: str) -> str:
    """``value`` with its line breaks (CRLF, CR, LF) written as ``\n``."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


def paragraphs_problem(value: str) -> str | None:
    """Why prose is not acceptable: as ``text_problem``, but line breaks are allowed."""
    if not value.strip():
        return text_problem(value)
    for line in paragraphs(value).split("\n"):
        problem = text_problem(line) if line.strip() else None
        if problem is not None:
            return problem
    return None
