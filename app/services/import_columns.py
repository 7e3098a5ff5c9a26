"""The column mapping of bulk imports: spreadsheet headers to enterprise-profile fields.

The mapping is built from the catalog's fact vocabulary (``policy_catalog/facts.yaml``),
so a fact added there gets a column without a code change:

- every flat fact has an English header (its path, ``location.`` dropped, dots as
  underscores: ``city``, ``ip_class_i``, ``lease_start_on``; the dotted path works
  too) and Chinese headers (the short names of ``ZH_ALIASES`` below, and the fact's
  ``zh`` description without its parenthesised remark where that is unambiguous);
- every yearly fact ``years.*.x`` is one column per year: ``x_<year>`` or
  ``<中文名>_<year>`` (``revenue_2024``, ``营业收入_2024``);
- performance scores are ``performance_<policy-id>_<year>`` (``绩效评分_…``) for a
  policy of the catalog;
- recognitions are one cell, ``kind:level:granted_on[:expires_on]; …``.

Headers match after Unicode NFKC folding (full-width letters, digits, brackets and
colons become ASCII), case folding, removing all white space and a trailing ``*``.
``policy_catalog/IMPORT.md`` documents the mapping; a test keeps the two in step.

Cells are parsed here too (``parse_cell``): spreadsheet values (text from a CSV, or
numbers, dates and booleans from an XLSX) become the JSON values the profile schema
validates, or a ``CellError`` with a reason a clerk can act on.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.catalog.loader import Catalog

YEAR = r"(?:19|20|21)\d{2}"
_POLICY = r"[a-z]{2}(?:-[a-z0-9]+)+"

# Identity: not facts (no rule reads them), but every row needs them.
IDENTITY_HEADERS: dict[str, tuple[str, ...]] = {
    "uscc": ("uscc", "统一社会信用代码", "社会信用代码", "信用代码"),
    "name": ("name", "企业名称", "单位名称", "名称", "企业(单位)名称"),
}
RECOGNITIONS_HEADERS = ("recognitions", "认定", "已获认定", "资质认定")
PERFORMANCE_PREFIXES = ("performance", "绩效评分", "绩效得分")

# Short Chinese headers, by fact path (yearly facts by their name under years.*).
# They win over names derived from facts.yaml's descriptions.
ZH_ALIASES: dict[str, tuple[str, ...]] = {
    "kind": ("主体类型",),
    "registered_on": ("成立日期", "注册日期"),
    "application_date": ("申报日期", "拟申报日期"),
    "location.province": ("省", "省份", "所在省"),
    "location.city": ("市", "城市", "所在市"),
    "location.district": ("区", "区县", "所在区"),
    "location.park": ("园区", "所在园区"),
    "industry": ("行业", "所属行业", "行业门类"),
    "industry_chain": ("产业链", "重点产业链"),
    "hte_field": ("高新技术领域", "技术领域"),
    "employees": ("职工总数", "从业人数"),
    "tech_staff": ("科技人员数",),
    "rd_staff": ("研发人员数",),
    "ip.class_i": ("Ⅰ类知识产权", "一类知识产权"),
    "ip.class_ii": ("Ⅱ类知识产权", "二类知识产权"),
    "own_rd_institution": ("自有研发机构",),
    "innovation_score": ("创新能力评价得分", "创新能力得分"),
    "tech_sme_score": ("科技型中小企业评价得分",),
    "specialized_sme_score": ("专精特新评价得分",),
    "niche_years": ("细分市场年数",),
    "national_market_share": ("全国市场占有率", "市场占有率"),
    "own_brand": ("自主品牌",),
    "compliance.serious_dishonesty": ("严重失信",),
    "compliance.major_incident_last_year": ("近一年重大事故",),
    "tax.book_based": ("查账征收",),
    "lease.area_m2": ("租用面积", "租赁面积"),
    "lease.start_on": ("租赁起始日期",),
    "years.*.revenue": ("营业收入", "销售收入"),
    "years.*.main_business_revenue": ("主营业务收入",),
    "years.*.high_tech_revenue": ("高新技术产品收入", "高新技术产品(服务)收入"),
    "years.*.operating_income": ("软件业务收入", "营业收入(软件口径)"),
    "years.*.rd_expense": ("研发费用",),
    "years.*.rd_expense_domestic": ("境内研发费用",),
    "years.*.taxable_income": ("应纳税所得额",),
    "years.*.total_assets": ("资产总额",),
    "years.*.total_liabilities": ("负债总额",),
    "years.*.equity_raised": ("股权融资额", "新增股权融资额"),
    "years.*.rent_paid": ("房租", "实付房租"),
    "years.*.incubated_high_tech_enterprises": ("孵育高新技术企业数",),
    "years.*.incubated_tech_smes": ("孵育科技型中小企业数",),
    "years.*.rd_expense_q4": ("第四季度研发费用", "四季度研发费用"),
    "years.*.ic_rd_list": ("集成电路企业清单",),
    "years.*.machine_tool_rd_list": ("工业母机企业清单",),
    "years.*.gross_income": ("收入总额",),
    "years.*.non_taxable_income": ("不征税收入",),
    "years.*.national_science_award_top3": ("国家级科技奖励前三",),
    "years.*.provincial_rd_institution": ("省部级以上研发机构",),
    "years.*.standard_lead_top5": ("主导制定标准",),
    "years.*.research_misconduct": ("科研严重失信",),
    "restricted_products": ("禁止限制淘汰类产品",),
    "years.*.major_incident": ("重大事故",),
    "years.*.tax_evasion": ("偷税漏税",),
    "foreign_invested": ("外商投资企业", "外资企业"),
    "overseas_rd_institution": ("境外研发机构",),
    "innovation_center_bid": ("争创创新中心",),
    "years.*.loan_interest_paid": ("贷款利息", "实付贷款利息"),
    # The industry ministry's ladder (issue 8).
    "years.*.national_science_award_rank": ("国家级科技奖励排名",),
    "years.*.provincial_science_award_rank": ("省部级科技奖励排名",),
    "years.*.maker_china": ("创客中国名单",),
    "innovative_sme_score.innovation": ("创新型中小企业创新能力得分",),
    "innovative_sme_score.growth": ("创新型中小企业成长性得分",),
    "innovative_sme_score.specialization": ("创新型中小企业专业化得分",),
    "specialized_development_score": ("专精特新发展评价得分",),
}

# Words for an empty recognitions list ("holds none"), as opposed to an empty cell
# ("not known"): the engine treats the two differently.
NO_RECOGNITIONS = frozenset({"none", "无", "-"})
SPREADSHEET_ERRORS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#SPILL!", "#CALC!"}
)
_TRUE = frozenset({"true", "yes", "y", "t", "1", "是", "有", "√"})
_FALSE = frozenset({"false", "no", "n", "f", "0", "否", "无", "×"})
_MEMO_TYPES = frozenset({"enum", "date", "boolean", "recognitions"})
_PARENTHESISED = re.compile(r"\([^)]*\)")
_THOUSANDS = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_DATE_PARTS = re.compile(
    r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[ t]\d{1,2}:\d{2}(:\d{2})?)?$"
)


def normalize_header(header: str) -> str:
    """The form headers are compared in: NFKC, case-folded, no white space, no trailing ``*``."""
    folded = unicodedata.normalize("NFKC", header).casefold()
    return "".join(folded.split()).rstrip("*")


@dataclass(frozen=True)
class Target:
    """Where a column's cells go in the profile, and how they are read."""

    path: tuple[str, ...]  # ("location", "city"), ("years", "2024", "revenue") …
    type: str  # a facts.yaml type, or "uscc", "text", "recognitions"
    enum: str | None = None

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True)
class Column:
    index: int  # 0-based position in the file
    header: str  # exactly as written in the file
    target: Target


class CellError(ValueError):
    """A cell that cannot become a profile value; the message is the reason."""


@dataclass(frozen=True)
class _Fact:
    path: str
    type: str
    enum: str | None
    zh: str
    en: str


class ColumnMap:
    """Headers -> targets, for one catalog (build it with ``column_map``)."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.flat: dict[str, Target] = {}
        self.yearly: dict[str, _Fact] = {}
        self.facts: list[_Fact] = []
        # Documentation: canonical English header, Chinese headers, fact.
        self.documented: list[tuple[str, tuple[str, ...], _Fact | None]] = []
        self.labels = _labels(catalog)
        self._memo: dict[tuple[Any, ...], tuple[bool, Any]] = {}
        self._build()

    # ------------------------------------------------------------------ building

    def _build(self) -> None:
        for key, headers in IDENTITY_HEADERS.items():
            target = Target((key,), "uscc" if key == "uscc" else "text")
            for header in headers:
                self.flat[normalize_header(header)] = target
            self.documented.append((headers[0], headers[1:], None))
        recognitions = Target(("recognitions",), "recognitions")
        for header in RECOGNITIONS_HEADERS:
            self.flat[normalize_header(header)] = recognitions

        flat_claims: dict[str, list[tuple[int, str]]] = {}  # header -> [(priority, path)]
        year_claims: dict[str, list[tuple[int, str]]] = {}
        for spec in self.catalog.vocabulary.facts:
            fact = _Fact(spec.path, spec.type, spec.enum, spec.zh, spec.en)
            parts = spec.path.split(".")
            if spec.type == "list" or ("*" in parts and not _is_yearly(parts)):
                continue  # recognitions (its own column) and the parts of list items
            if parts[:1] == ["years"] and parts[-1] == "*":
                continue  # performance scores: their own header pattern
            self.facts.append(fact)
            claims = year_claims if _is_yearly(parts) else flat_claims
            for header in _english_headers(fact):
                claims.setdefault(normalize_header(header), []).append((0, fact.path))
            for header in ZH_ALIASES.get(fact.path, ()):
                claims.setdefault(normalize_header(header), []).append((0, fact.path))
            for header in _derived_zh(fact):
                claims.setdefault(normalize_header(header), []).append((1, fact.path))

        by_path = {f.path: f for f in self.facts}
        for header, claimants in flat_claims.items():
            path = _winner(claimants)
            if path is not None and header not in self.flat:
                fact = by_path[path]
                self.flat[header] = Target(tuple(path.split(".")), fact.type, fact.enum)
        for header, claimants in year_claims.items():
            path = _winner(claimants)
            if path is not None:
                self.yearly[header] = by_path[path]

        for fact in self.facts:
            header = _english_headers(fact)[0]
            chinese = [
                h
                for h in (*ZH_ALIASES.get(fact.path, ()), *_derived_zh(fact))
                if self._resolves_to(h, fact)
            ]
            if _is_yearly(fact.path.split(".")):
                header = f"{header}_<year>"
                chinese = [f"{h}_<year>" for h in chinese]
            self.documented.append((header, tuple(dict.fromkeys(chinese)), fact))

    def _resolves_to(self, header: str, fact: _Fact) -> bool:
        key = normalize_header(header)
        if _is_yearly(fact.path.split(".")):
            return self.yearly.get(key) == fact
        target = self.flat.get(key)
        return target is not None and target.name == fact.path

    # ------------------------------------------------------------------ looking up

    def resolve(self, header: str) -> Target | None:
        """The target of a header, or ``None`` if the mapping does not know it."""
        key = normalize_header(header)
        if key in self.flat:
            return self.flat[key]
        performance = re.fullmatch(
            rf"(?P<prefix>[^_]+)_(?P<policy>{_POLICY})_(?P<year>{YEAR})", key
        )
        if performance and performance["prefix"] in PERFORMANCE_PREFIXES:
            if performance["policy"] not in self.catalog.policies:
                return None
            return Target(
                ("years", performance["year"], "performance", performance["policy"]), "score"
            )
        yearly = re.fullmatch(rf"(?P<name>.+)_(?P<year>{YEAR})", key)
        if yearly and yearly["name"] in self.yearly:
            fact = self.yearly[yearly["name"]]
            return Target(("years", yearly["year"], fact.path.split(".")[-1]), fact.type, fact.enum)
        return None

    def known_headers(self) -> list[str]:
        """Every header the mapping knows, in documentation order (for an error message)."""
        known = []
        for english, chinese, _fact in self.documented:
            known.append(english)
            known.extend(chinese)
        known.extend(RECOGNITIONS_HEADERS)
        known.extend(f"{p}_<policy-id>_<year>" for p in PERFORMANCE_PREFIXES)
        return known

    def bind(self, headers: Iterable[Any]) -> tuple[list[Column], list[str], list[str]]:
        """Columns for a header row, plus (unknown headers, problems such as duplicates).

        An empty header cell makes its column ignored (its cells are reported only if
        they hold something, see ``bulk_import``).
        """
        columns: list[Column] = []
        unknown: list[str] = []
        problems: list[str] = []
        seen: dict[tuple[str, ...], str] = {}
        for index, raw in enumerate(headers):
            header = "" if raw is None else str(raw).strip()
            if not header:
                continue
            target = self.resolve(header)
            if target is None:
                unknown.append(header)
                policy = re.fullmatch(rf"[^_]+_({_POLICY})_{YEAR}", normalize_header(header))
                if policy and policy[1] not in self.catalog.policies:
                    problems.append(f"`{header}`: the catalog has no policy `{policy[1]}`")
                continue
            if target.path in seen:
                problems.append(
                    f"columns `{seen[target.path]}` and `{header}` both give {target.name}: keep one"
                )
                continue
            seen[target.path] = header
            columns.append(Column(index, header, target))
        for required in ("uscc", "name"):
            if (required,) not in seen:
                names = " or ".join(f"`{h}`" for h in IDENTITY_HEADERS[required])
                problems.append(f"the file needs a {names} column")
        return columns, unknown, problems

    # ------------------------------------------------------------------ cells

    def parse_cell(self, target: Target, value: Any) -> Any:
        """The JSON value of a non-empty cell for ``target``; ``CellError`` if it has none.

        Words, dates, booleans and recognitions repeat from row to row: their answers
        (values or reasons) are remembered.
        """
        if target.type not in _MEMO_TYPES or isinstance(value, float):
            return self._parse_cell(target, value)
        key = (target.type, target.enum, type(value), value)
        known = self._memo.get(key)
        if known is None:
            try:
                known = (True, self._parse_cell(target, value))
            except CellError as exc:
                known = (False, str(exc))
            if len(self._memo) > 200_000:
                self._memo.clear()
            self._memo[key] = known
        ok, result = known
        if not ok:
            raise CellError(result)
        return copy.deepcopy(result) if isinstance(result, list) else result

    def cell_parser(self, target: Target) -> Callable[[Any], Any]:
        """``parse_cell`` for one column, its dispatch done once: an import calls it for
        every cell. Plain text cells of numbers and names take a short way that gives
        what ``parse_cell`` gives (no spreadsheet error starts otherwise than with #)."""
        kind = target.type
        slow = self._parse_cell
        if kind in _MEMO_TYPES:
            memo: dict[tuple[type, Any], tuple[bool, Any]] = {}

            def remembered(value: Any) -> Any:
                if isinstance(value, float):
                    return slow(target, value)
                key = (type(value), value)
                known = memo.get(key)
                if known is None:
                    try:
                        known = (True, slow(target, value))
                    except CellError as exc:
                        known = (False, str(exc))
                    if len(memo) > 50_000:
                        memo.clear()
                    memo[key] = known
                ok, result = known
                if not ok:
                    raise CellError(result)
                # recognitions: a list of flat dicts of text, each row its own
                return [dict(item) for item in result] if isinstance(result, list) else result

            return remembered
        if kind == "integer":

            def integer(value: Any) -> Any:
                if type(value) is str:
                    text = value.strip()
                    if text.isascii() and text.isdigit():
                        return int(text)
                return slow(target, value)

            return integer
        if kind in ("money", "decimal", "score", "text", "uscc"):
            upper = kind == "uscc"

            def plain(value: Any) -> Any:
                if type(value) is str:
                    text = value.strip()
                    if text[:1] != "#" and (upper or kind == "text" or "," not in text):
                        return text.upper() if upper else text
                return slow(target, value)

            return plain
        return lambda value: slow(target, value)

    def column_parser(self, target: Target) -> Callable[[list[str]], list[Any] | None] | None:
        """``cell_parser``'s short way over a column of text cells at once: the cells'
        values, or ``None`` when one of them would not take the short way (then each
        goes through ``cell_parser``). ``None`` for a column without a short way."""
        kind = target.type
        if kind == "integer":

            def integers(cells: list[str]) -> list[Any] | None:
                texts = list(map(str.strip, cells))
                if _one_line_each(texts, _DIGIT_LINES):
                    return list(map(int, texts))
                return None

            return integers
        if kind in ("money", "decimal", "score", "text", "uscc"):
            commas = kind in ("money", "decimal", "score")

            def plain(cells: list[str]) -> list[Any] | None:
                texts = list(map(str.strip, cells))
                lines = "\n" + "\n".join(texts)
                if "\n#" in lines or (commas and "," in lines):
                    return None  # (perhaps): cell by cell
                return list(map(str.upper, texts)) if kind == "uscc" else texts

            return plain
        return None

    def _parse_cell(self, target: Target, value: Any) -> Any:
        kind = target.type
        if isinstance(value, str) and value.strip() in SPREADSHEET_ERRORS:
            raise CellError(f"the cell holds the spreadsheet error {value}")
        if kind == "uscc":
            return _uscc_text(value)
        if kind == "text":
            return _text(value)
        if kind in ("money", "decimal", "score"):
            return _number_text(value)
        if kind == "share":
            return _share(value)
        if kind == "integer":
            return _integer(value)
        if kind == "date":
            return _date(value)
        if kind == "boolean":
            return _boolean(value)
        if kind == "enum":
            return self.word(target.enum or "", value)
        if kind == "recognitions":
            return self._recognitions(value)
        return _text(value)

    def word(self, enumeration: str, value: Any) -> str:
        """A vocabulary word from its value or its Chinese or English label."""
        text = _text(value)
        labels = self.labels.get(enumeration, {})
        word = labels.get(normalize_header(text))
        if word is None:
            known = ", ".join(sorted(set(labels.values())))
            raise CellError(f"`{text}` is not a known {enumeration}; use one of: {known}")
        return word

    def _recognitions(self, value: Any) -> list[dict[str, str]]:
        text = unicodedata.normalize("NFKC", _text(value))
        if text.strip().casefold() in NO_RECOGNITIONS:
            return []
        items = []
        entries = [e.strip() for e in re.split(r"[;\n]", text) if e.strip()]
        for number, entry in enumerate(entries, 1):
            parts = [p.strip() for p in entry.split(":")]
            if len(parts) > 4 or not parts[0]:
                raise CellError(
                    f"recognition {number} (`{entry}`) is not kind:level:granted_on[:expires_on]"
                )
            try:
                item = {"kind": self.word("recognition_kind", parts[0])}
                if len(parts) > 1 and parts[1]:
                    item["level"] = self.word("recognition_level", parts[1])
                for key, part in zip(("granted_on", "expires_on"), parts[2:], strict=False):
                    if part:
                        item[key] = _date(part)
            except CellError as exc:
                raise CellError(f"recognition {number} (`{entry}`): {exc}") from None
            items.append(item)
        return items


_MAPS: dict[str, ColumnMap] = {}


def column_map(catalog: Catalog) -> ColumnMap:
    """The mapping for this catalog (built once per catalog hash)."""
    cached = _MAPS.get(catalog.hash)
    if cached is None or cached.catalog is not catalog:
        cached = _MAPS[catalog.hash] = ColumnMap(catalog)
    return cached


# ---------------------------------------------------------------------- helpers

_DIGIT_LINES = re.compile(r"(?:[0-9]+\n)*")


def _one_line_each(texts: list[str], lines: re.Pattern[str]) -> bool:
    """Whether each text, on a line of its own, is one of ``lines``' (a text holding a
    line break of its own is not)."""
    joined = "\n".join(texts) + "\n"
    return joined.count("\n") == len(texts) and lines.fullmatch(joined) is not None


def _is_yearly(parts: list[str]) -> bool:
    return len(parts) == 3 and parts[0] == "years" and parts[1] == "*" and parts[2] != "*"


def _english_headers(fact: _Fact) -> list[str]:
    parts = fact.path.split(".")
    if _is_yearly(parts):
        return [parts[-1]]
    if parts[0] == "location":
        parts = parts[1:]
    return list(dict.fromkeys(["_".join(parts), fact.path]))


def _derived_zh(fact: _Fact) -> list[str]:
    """Chinese headers from the description: without its remark, and for yearly facts
    also without the leading 年度/年末 (``年度研发费用(费用化部分)`` -> ``研发费用``)."""
    base = _PARENTHESISED.sub("", unicodedata.normalize("NFKC", fact.zh)).strip()
    names = [base] if base else []
    if _is_yearly(fact.path.split(".")):
        for prefix in ("年度", "年末"):
            if base.startswith(prefix) and len(base) > len(prefix):
                names.append(base[len(prefix) :])
    return names


def _winner(claimants: list[tuple[int, str]]) -> str | None:
    """The fact a header names: the only one at the best priority, else none (ambiguous)."""
    best = min(p for p, _ in claimants)
    paths = {path for p, path in claimants if p == best}
    return paths.pop() if len(paths) == 1 else None


def _labels(catalog: Catalog) -> dict[str, dict[str, str]]:
    """Per enumeration: normalised value, zh and en label -> the word."""
    vocabulary = catalog.vocabulary
    groups: dict[str, list[Any]] = {name: list(ws) for name, ws in vocabulary.enumerations.items()}
    groups["province"] = list(vocabulary.places)
    groups["city"] = [c for p in vocabulary.places for c in p.cities]
    groups["district"] = [d for p in vocabulary.places for c in p.cities for d in c.districts]
    groups["park"] = [
        k for p in vocabulary.places for c in p.cities for d in c.districts for k in d.parks
    ]
    labels: dict[str, dict[str, str]] = {}
    for name, words in groups.items():
        table: dict[str, str] = {}
        for w in words:
            table[normalize_header(w.value)] = w.value
        for w in words:
            for label in (w.zh, w.en):
                table.setdefault(normalize_header(label), w.value)
                # also without a remark: 孵化载体(众创空间、孵化器…) -> 孵化载体
                short = _PARENTHESISED.sub("", unicodedata.normalize("NFKC", label)).strip()
                if short:
                    table.setdefault(normalize_header(short), w.value)
        labels[name] = table
    return labels


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _uscc_text(value: Any) -> str:
    if isinstance(value, float):
        raise CellError(
            "the USCC was stored as a number and has lost digits: format the column as text"
        )
    return _text(value).upper()


def _plain_number(text: str) -> str:
    if _THOUSANDS.match(text):
        return text.replace(",", "")
    return text


def _number_text(value: Any) -> Any:
    """Numbers go to the profile schema as text (or int), which checks range and places."""
    if isinstance(value, bool):
        raise CellError("a number is expected, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return _plain_number(_text(value))


def _share(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        text = _plain_number(value.strip()[:-1].strip())
        try:
            share = Decimal(text) / 100
        except InvalidOperation:
            raise CellError(f"`{value.strip()}` is not a percentage") from None
        return format(share.normalize(), "f") if share.is_finite() else text
    return _number_text(value)


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise CellError("a whole number is expected, not true/false")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError(f"{value!r} is not a whole number")
    text = _plain_number(_text(value))
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError(f"`{text}` is not a whole number") from None
    if not number.is_finite() or number != number.to_integral_value() or "e" in text.lower():
        raise CellError(f"`{text}` is not a whole number")
    return int(number)


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta | float | bool):
        raise CellError("a date is expected: write it as YYYY-MM-DD")
    text = unicodedata.normalize("NFKC", _text(value)).casefold()
    match = _DATE_PARTS.match(text)
    if match is None and re.fullmatch(r"\d{8}", text):
        match = re.match(r"(\d{4})(\d{2})(\d{2})", text)
    if match is None:
        raise CellError(f"`{text}` is not a date: write it as YYYY-MM-DD")
    try:
        return date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        raise CellError(f"`{text}` is not a calendar date") from None


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = unicodedata.normalize("NFKC", _text(value)).casefold()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CellError(f"`{text}` is not yes or no: write 是/否, true/false or 1/0")


def mapping_rows(cmap: ColumnMap) -> list[dict[str, str]]:
    """The mapping as table rows (header, Chinese headers, profile field, type, meaning)."""
    rows = []
    for english, chinese, fact in cmap.documented:
        rows.append(
            {
                "header": english,
                "zh": " / ".join(chinese),
                "field": fact.path if fact else english,
                "type": (fact.enum or fact.type) if fact else "text",
                "en": fact.en if fact else "",
            }
        )
    return rows


def lookup_pointer(columns: Mapping[tuple[str, ...], str], path: Iterable[Any]) -> str | None:
    """The header of the column that fed ``path`` (or the nearest enclosing one)."""
    parts = tuple(str(p) for p in path)
    while parts:
        if parts in columns:
            return columns[parts]
        parts = parts[:-1]
    return None
