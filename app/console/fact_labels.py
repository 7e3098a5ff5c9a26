"""Missing facts and findings by the names an officer knows, not by their profile paths.

The engine names what an answer waits for by path (``years.2025.revenue``,
``recognitions``, ``finding:hte_core_ip_support``); the catalog's vocabulary gives each
fact and finding a Chinese and an English description. A page shows the description's
head (before a semicolon or a spaced dash, without the parenthesised notes at its end:
those are guidance for the form) with the year a yearly fact is for, and keeps the path
in the element's title for whoever needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.catalog.loader import Catalog

_OPEN, _CLOSE = "((", "))"
_FINDING = "finding:"


def head(description: str) -> str:
    """``年度营业收入(销售收入)`` -> ``年度营业收入``: the description up to a semicolon
    or a spaced dash outside parentheses, without the parenthesised notes at its end. A
    parenthesis inside the name stays (``年度高新技术产品(服务)收入``)."""
    depth, end = 0, len(description)
    for at, char in enumerate(description):
        if char in _OPEN:
            depth += 1
        elif char in _CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0 and (char in ";;" or description.startswith(" - ", at)):
            end = at
            break
    text = description[:end].rstrip()
    while text and text[-1] in _CLOSE and (opening := _opening(text)) > 0:
        text = text[:opening].rstrip()
    return text


def _opening(text: str) -> int:
    """Where the parenthesis that closes ``text`` opens (-1: nowhere)."""
    depth = 0
    for at in range(len(text) - 1, -1, -1):
        if text[at] in _CLOSE:
            depth += 1
        elif text[at] in _OPEN:
            depth -= 1
            if depth == 0:
                return at
    return -1


@dataclass(frozen=True)
class FactLabels:
    """The short names of the vocabulary's facts (by path pattern) and findings."""

    exact: dict[str, tuple[str, str]]
    #: Patterns with ``*`` parts (``years.*.revenue``), split into their parts.
    patterns: tuple[tuple[tuple[str, ...], tuple[str, str]], ...]
    findings: dict[str, tuple[str, str]]

    @classmethod
    def of(cls, catalog: Catalog) -> FactLabels:
        exact: dict[str, tuple[str, str]] = {}
        patterns = []
        for spec in catalog.vocabulary.facts:
            names = (head(spec.zh), head(spec.en))
            if "*" in spec.path:
                patterns.append((tuple(spec.path.split(".")), names))
            else:
                exact[spec.path] = names
        findings = {f.key: (head(f.zh), head(f.en)) for f in catalog.vocabulary.findings}
        return cls(exact, tuple(patterns), findings)

    def label(self, path: str, lang: str) -> str:
        """The name of what ``path`` stands for in ``lang`` (``zh`` or ``en``); the path
        itself when the vocabulary does not know it."""
        index = 0 if lang == "zh" else 1
        if path.startswith(_FINDING):
            found = self.findings.get(path[len(_FINDING) :])
            return found[index] if found else path
        if path in self.exact:
            return self.exact[path][index]
        parts = path.split(".")
        for pattern, names in self.patterns:
            if len(pattern) == len(parts) and all(
                p == "*" or p == q for p, q in zip(pattern, parts, strict=True)
            ):
                return _with_year(names[index], parts, lang)
        return path


def _with_year(name: str, parts: list[str], lang: str) -> str:
    """A yearly fact's name with its year: ``2025年 年度营业收入``, ``revenue … (2025)``."""
    if parts[0] != "years" or not parts[1].isdigit():
        return name
    return f"{parts[1]}年 {name}" if lang == "zh" else f"{name} ({parts[1]})"


_KEPT: dict[int, tuple[Catalog, FactLabels]] = {}


def labeller(catalog: Catalog, lang: str) -> Callable[[str], str]:
    """``fact(path)`` for templates: the catalog's labels, made once per catalog."""
    kept = _KEPT.get(id(catalog))
    if kept is None or kept[0] is not catalog:
        if len(_KEPT) >= 4:  # (tests start many apps, each with its own catalog)
            _KEPT.clear()
        kept = _KEPT[id(catalog)] = (catalog, FactLabels.of(catalog))
    labels = kept[1]
    return lambda path: labels.label(path, lang)
