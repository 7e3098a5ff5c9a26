"""Checking an import's rows a chunk at a time, column by column.

``bulk_import`` checks a row by building an ``EnterpriseProfile`` from its cells and
dumping it again: about 60 µs a row, most of an import's reading time. Each field of
the profile is validated on its own, though (no validator of the model looks at two
fields), so a chunk's column can be validated as one list by pydantic with the field's
own annotation, and a row whose every cell passes gives, cell for cell, the values the
model would have dumped. A row is only taken this way when nothing about it can be
wrong; every other row (a cell that does not parse or validate, a missing name, a
word the catalog does not know, a place outside a portal's area, a value in a column
without a header…) is left to the model (``None`` below), which finds and words its
errors exactly as it always has.

Whether a profile's words are known (``check_words``) and its place inside a portal's
area depends on its words alone: the verdict is found once per combination of the
row's words, with the model, and remembered.

A file this cannot take exactly (a profile field behind a model validator, a nested
model with a required field, more year columns than the profile allows…) is left to
the model row by row (``usable`` is false).
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Sequence
from typing import Any

from annotated_types import MaxLen
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from app.catalog.loader import Catalog
from app.catalog.places import location_of
from app.db.projection import Projected
from app.db.projection_columns import ColumnProjection
from app.profile import EnterpriseProfile
from app.profile.types import MoneyIn, SignedMoneyIn, plain_amounts
from app.services.access import scope_of
from app.services.actors import Actor
from app.services.errors import Invalid
from app.services.import_columns import CellError, Column, ColumnMap
from app.services.vocabulary import check_words

#: Column types whose cells repeat from row to row: a cell's answer is remembered.
_MEMO_TYPES = frozenset({"enum", "date", "boolean", "recognitions"})
#: Column types holding the vocabulary's words (what ``check_words`` reads).
_WORD_TYPES = frozenset({"enum", "recognitions"})
#: Model settings the per-field validation honours (anything else: the model decides).
_PLAIN_CONFIG = frozenset({"extra"})
_MEMO_SIZE = 50_000
#: Values of a column validated in one call (``_ColumnCheck._validated``).
_PART = 250
_ABSENT = object()
_TEXT_OR_NONE = frozenset({str, type(None)})
_TEXT = {str}


class _Unsupported(Exception):
    """A column this module cannot validate exactly as the model does."""


def _plain_model(model: type[BaseModel]) -> None:
    """Refuse a model whose fields are not validated and dumped one by one."""
    decorators = model.__pydantic_decorators__
    if (
        decorators.validators
        or decorators.field_validators
        or decorators.root_validators
        or decorators.model_validators
        or decorators.field_serializers
        or decorators.model_serializers
        or not set(model.model_config) <= _PLAIN_CONFIG
    ):
        raise _Unsupported(model.__name__)


def _optional_inner(annotation: Any) -> Any:
    """``X`` of ``X | None`` (``X`` itself if it is not optional)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, type(int | None)) and len(args) == 1:
        return args[0]
    return annotation


def _leaf(path: tuple[str, ...], limits: dict[tuple[str, ...], int]) -> Any:
    """The annotation that validates the value at ``path`` as the profile model does.

    Dictionaries on the way (``years``, a year's ``performance``) have their key
    checked here, once, and their size limits noted in ``limits`` (by the dictionary's
    path) for the caller to hold against the file's columns."""
    node: Any = EnterpriseProfile
    i = 0
    while True:
        if not (isinstance(node, type) and issubclass(node, BaseModel)):
            raise _Unsupported(".".join(path))
        _plain_model(node)
        if node is not EnterpriseProfile and any(
            f.is_required() for n, f in node.model_fields.items() if n != path[i]
        ):
            raise _Unsupported(f"{node.__name__} has a required field")  # a row could lack it
        info = node.model_fields.get(path[i])
        if info is None:
            raise _Unsupported(".".join(path))
        if i == len(path) - 1:
            return typing.Annotated[info.annotation, info]
        inner = _optional_inner(info.annotation)
        if typing.get_origin(inner) is dict:
            key_type, value_type = typing.get_args(inner)
            if i + 1 >= len(path):
                raise _Unsupported(".".join(path))
            try:
                TypeAdapter(key_type).validate_python(path[i + 1])
            except ValidationError:
                raise _Unsupported(".".join(path)) from None
            for constraint in info.metadata:
                if not isinstance(constraint, MaxLen):
                    raise _Unsupported(".".join(path))
                limits[path[: i + 1]] = constraint.max_length
            i += 2
            if i == len(path):
                return value_type
            node = value_type
        else:
            if info.metadata:
                raise _Unsupported(".".join(path))
            node = inner
            i += 1


def _amount(leaf: Any) -> bool | None:
    """For a field that is an amount and nothing more (``MoneyIn | None`` or
    ``SignedMoneyIn | None`` without constraints), whether it is signed; else ``None``.
    Its values are read together by ``plain_amounts``, and only dumped by pydantic."""
    annotation, *about = typing.get_args(leaf) or (leaf,)
    if any(not isinstance(a, FieldInfo) or a.metadata for a in about):
        return None
    inner = _optional_inner(annotation)
    if inner == MoneyIn:
        return False
    if inner == SignedMoneyIn:
        return True
    return None


def _setter(path: tuple[str, ...]) -> Callable[[dict[str, Any], Any], None]:
    """Puts a value at ``path`` of a row's document, as ``bulk_import`` builds it."""
    if len(path) == 1:
        (key,) = path

        def top(doc: dict[str, Any], value: Any) -> None:
            doc[key] = value

        return top
    *parents, last = path

    def nested(doc: dict[str, Any], value: Any) -> None:
        node = doc
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value

    return nested


class _ColumnCheck:
    """One column: its cells' parser, the field's validator, where the value goes."""

    def __init__(self, cmap: ColumnMap, column: Column, limits: dict[tuple[str, ...], int]):
        self.index = column.index
        self.path = column.target.path
        self.parse = cmap.cell_parser(column.target)
        self.parse_all = cmap.column_parser(column.target)
        leaf = _leaf(self.path, limits)
        self.many: TypeAdapter[list[Any]] = TypeAdapter(list[leaf])  # type: ignore[valid-type]
        self.signed = _amount(leaf)
        self.put = _setter(self.path)
        self.remembered = column.target.type in _MEMO_TYPES
        self.word = column.target.type in _WORD_TYPES
        self.memo: dict[tuple[type, Any], Any] = {}
        self.text_memo: dict[str, Any] = {}  # (the same answers, of text cells)
        self.copied = column.target.type == "recognitions"  # (lists: each row its own)

    def values(self, cells: Sequence[Any], bad: list[bool]) -> list[Any]:
        """Each row's value as the model dumps it, ``_ABSENT`` for an empty cell; a row
        whose cell fails is marked in ``bad`` (its value is then meaningless)."""
        count = len(cells)
        texts = set(map(type, cells)) == _TEXT and all(map(str.strip, cells))
        if texts:
            present = list(range(count))  # a CSV column with every cell filled: most
        else:
            present = [
                k
                for k, raw in enumerate(cells)
                if raw is not None and (type(raw) is not str or raw.strip())
            ]
        if self.remembered:
            if texts:
                return self._remembered_texts(cells, bad)  # type: ignore[arg-type]
            return self._remembered(cells, present, bad)
        parse = self.parse
        parsed = None
        if texts and self.parse_all is not None:
            parsed = self.parse_all(cells)  # type: ignore[arg-type]
        try:
            if parsed is None:
                parsed = [parse(cells[k]) for k in present]
        except CellError:  # find which (rare): those rows are the model's
            parsed, kept = [], []
            for k in present:
                try:
                    parsed.append(parse(cells[k]))
                except CellError:
                    bad[k] = True
                    continue
                kept.append(k)
            present = kept
        amounts = None if self.signed is None else plain_amounts(parsed, signed=self.signed)
        if amounts is not None:  # what the field's validator gives them, found at once
            dumped: list[Any] = self.many.dump_python(amounts, mode="json", exclude_none=True)
        else:
            dumped = self._validated(present, parsed, bad) if present else []
        if None in dumped:
            for k, value in zip(present, dumped, strict=True):
                if value is None:
                    bad[k] = True  # the model would leave the field out: let it
        if len(present) == count:
            return dumped
        out: list[Any] = [_ABSENT] * count
        for k, value in zip(present, dumped, strict=True):
            out[k] = value
        return out

    def _remembered(self, cells: Sequence[Any], present: list[int], bad: list[bool]) -> list[Any]:
        out: list[Any] = [_ABSENT] * len(cells)
        memo = self.memo
        for k in present:
            raw = cells[k]
            if isinstance(raw, float):  # 1.0 == 1 == True: not a key
                known = self._one(raw)
            else:
                key = (type(raw), raw)
                known = memo.get(key)
                if known is None:
                    known = self._one(raw)
                    if len(memo) > _MEMO_SIZE:
                        memo.clear()
                    memo[key] = known
            if known is _ABSENT:
                bad[k] = True
            else:
                # recognitions: a list of flat dicts, each row its own
                out[k] = [dict(i) for i in known] if type(known) is list else known
        return out

    def _remembered_texts(self, cells: list[str], bad: list[bool]) -> list[Any]:
        """``_remembered`` of a column of text cells, every one filled: each text's
        answer found once, then looked up for all."""
        memo = self.text_memo
        new = set(cells).difference(memo)
        if new:
            if len(memo) + len(new) > _MEMO_SIZE:
                memo.clear()
                new = set(cells)
            for raw in new:
                memo[raw] = self._one(raw)
        out = list(map(memo.__getitem__, cells))
        if _ABSENT in out:
            for k, known in enumerate(out):
                if known is _ABSENT:
                    bad[k] = True
        if self.copied:  # recognitions: a list of flat dicts, each row its own
            return [[dict(i) for i in known] if type(known) is list else known for known in out]
        return out

    def _one(self, raw: Any) -> Any:
        try:
            value = self.parse(raw)
            dumped = self.many.dump_python(
                self.many.validate_python([value]), mode="json", exclude_none=True
            )[0]
        except (CellError, ValidationError):
            return _ABSENT
        return _ABSENT if dumped is None else dumped

    def _validated(self, present: list[int], parsed: list[Any], bad: list[bool]) -> list[Any]:
        """The dumped values of ``parsed``; a failing one marks its row bad (its value
        is then ``_ABSENT``). Validated a part at a time: a value that fails has its
        part validated again without it, not the whole chunk."""
        if len(parsed) <= _PART:
            return self._validated_part(present, parsed, bad)
        out: list[Any] = []
        for start in range(0, len(parsed), _PART):
            part = slice(start, start + _PART)
            out += self._validated_part(present[part], parsed[part], bad)
        return out

    def _validated_part(self, present: list[int], parsed: list[Any], bad: list[bool]) -> list[Any]:
        try:
            dumped: list[Any] = self.many.dump_python(
                self.many.validate_python(parsed), mode="json", exclude_none=True
            )
            return dumped
        except ValidationError as exc:
            failed = {int(e["loc"][0]) for e in exc.errors() if e.get("loc")}
            if not failed:  # not a list item's error: none of them is taken
                failed = set(range(len(parsed)))
        keep = [n for n in range(len(parsed)) if n not in failed]
        for n in failed:
            bad[present[n]] = True
        dumped = self._validated_part([present[n] for n in keep], [parsed[n] for n in keep], bad)
        out: list[Any] = [_ABSENT] * len(parsed)
        for n, value in zip(keep, dumped, strict=True):
            out[n] = value
        return out


class ColumnwiseChecker:
    """Checks a chunk of rows column by column (see the module's docstring)."""

    def __init__(
        self,
        catalog: Catalog,
        cmap: ColumnMap,
        columns: list[Column],
        actor: Actor,
        unmapped: list[int],
        width: int,
    ) -> None:
        self.catalog, self.actor = catalog, actor
        self.scope = scope_of(actor, catalog)
        self.unmapped, self.width = unmapped, width
        self.usable = True
        self.checks: list[_ColumnCheck] = []
        limits: dict[tuple[str, ...], int] = {}
        try:
            _plain_model(EnterpriseProfile)
            self.checks = [_ColumnCheck(cmap, c, limits) for c in columns]
        except _Unsupported:
            self.usable = False
            return
        for where, most in limits.items():
            keys = {c.path[len(where)] for c in self.checks if c.path[: len(where)] == where}
            if len(keys) > most:
                self.usable = False  # a row could hold more than the profile allows
        paths = {c.path for c in self.checks}
        required = [n for n, f in EnterpriseProfile.model_fields.items() if f.is_required()]
        if any((n,) not in paths for n in required):
            self.usable = False  # every row lacks it: the model says so
        # The profile's own fields first, then the nested ones in the file's order (the
        # order the model keeps a year's entries in).
        self.checks.sort(key=lambda c: len(c.path) > 1)
        self.top_keys = [c.path[0] for c in self.checks if len(c.path) == 1]
        # Where each nested value goes: its parents' keys and its own. Columns under one
        # parent share one tuple, so a row's document finds a parent once per run of
        # them (``checked``).
        parents: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.nested_at = [
            (parents.setdefault(c.path[:-1], c.path[:-1]), c.path[-1])
            for c in self.checks
            if len(c.path) > 1
        ]
        self.required_at = [n for n, c in enumerate(self.checks) if c.path[0] in required]
        self.word_at = [n for n, c in enumerate(self.checks) if c.word]
        self.verdicts: dict[tuple[Any, ...], bool] = {}
        self.projection = ColumnProjection.plan([c.path for c in self.checks])

    def check(self, chunk: Sequence[Sequence[Any]]) -> list[dict[str, Any] | None]:
        """Per row of ``chunk``: its facts as ``EnterpriseProfile.facts()`` gives them
        (nested keys perhaps in another order), or ``None`` for the model to check."""
        return self.checked(chunk)[0]

    def checked(
        self, chunk: Sequence[Sequence[Any]]
    ) -> tuple[list[dict[str, Any] | None], ChunkProjection | None]:
        """``check``, and the projection of the rows taken, made when it is first asked
        for (``None``: the file's columns are projected row by row, from the facts)."""
        count = len(chunk)
        bad = [False] * count
        width, unmapped = self.width, self.unmapped
        for k, values in enumerate(chunk):
            if len(values) > width or (
                unmapped and any(not _empty(values[i]) for i in unmapped if i < len(values))
            ):
                bad[k] = True  # a value in a column without a header: the model words it
        if all(len(values) >= width for values in chunk):
            columns: list[Sequence[Any]] = list(zip(*chunk, strict=False)) if chunk else []
        else:
            columns = [
                [values[i] if i < len(values) else None for values in chunk] for i in range(width)
            ]
        values_of = [check.values(columns[check.index], bad) for check in self.checks]
        for n in self.required_at:
            for k, value in enumerate(values_of[n]):
                if value is _ABSENT:
                    bad[k] = True  # the model says it is missing
        words = self._word_keys([columns[self.checks[n].index] for n in self.word_at], count)
        top_keys, nested_at, ntop = self.top_keys, self.nested_at, len(self.top_keys)
        verdicts = self.verdicts
        out: list[dict[str, Any] | None] = [None] * count
        for k, row in enumerate(zip(*values_of, strict=True)):
            if bad[k]:
                continue
            if words:
                fits = verdicts.get(words[k])
                if fits is None:
                    fits = self._verdict(words[k], [row[n] for n in self.word_at])
                if not fits:
                    continue
            doc = {
                key: value
                for key, value in zip(top_keys, row, strict=False)
                if value is not _ABSENT
            }
            # As each column's ``put`` would, in the same order; a parent is looked up
            # once for a run of its columns (a year's figures side by side).
            node, under = doc, None
            for (parents, key), value in zip(nested_at, row[ntop:], strict=True):
                if value is _ABSENT:
                    continue
                if parents is not under:
                    node, under = doc, parents
                    for part in parents:
                        node = node.setdefault(part, {})
                node[key] = value
            out[k] = doc
        if self.projection is None:
            return out, None
        return out, ChunkProjection(self.projection, values_of, [d is not None for d in out])

    @staticmethod
    def _word_keys(cells: list[Sequence[Any]], count: int) -> list[tuple[Any, ...]]:
        """Per row, its word columns' cells: what the verdict on its words depends on
        (cells other than text keep their type: 1, 1.0 and True are equal keys)."""
        if not cells:
            return []
        if all(set(map(type, column)) <= _TEXT_OR_NONE for column in cells):
            return list(zip(*cells, strict=True))
        return [tuple((type(column[k]), column[k]) for column in cells) for k in range(count)]

    def _verdict(self, key: tuple[Any, ...], words: list[Any]) -> bool:
        """Whether these words pass ``check_words`` and, for a portal, lie in its area
        (found with the model, then remembered by the cells they came from)."""
        doc: dict[str, Any] = {"name": "-"}
        for n, value in zip(self.word_at, words, strict=True):
            if value is not _ABSENT:
                self.checks[n].put(doc, value)
        try:
            profile = EnterpriseProfile.model_validate(doc)
            check_words(profile, self.catalog)
            fits = self.actor.role != "portal" or self.scope.sees_location(
                location_of(profile.location)
            )
        except (ValidationError, Invalid):
            fits = False
        if len(self.verdicts) > _MEMO_SIZE:
            self.verdicts.clear()
        self.verdicts[key] = fits
        return fits


class ChunkProjection:
    """The projection rows of a chunk's rows taken column by column, made for the whole
    chunk when one is first asked for: an import that writes nothing makes none."""

    def __init__(
        self, plan: ColumnProjection, values_of: list[list[Any]], taken: list[bool]
    ) -> None:
        self.plan, self.values_of, self.taken = plan, values_of, taken
        self.made: list[Projected | None] | None = None

    def row(self, k: int) -> Projected | None:
        """Row ``k``'s projection (``None`` if the row was not taken)."""
        if self.made is None:
            self.made = self.plan.rows(self.values_of, self.taken, _ABSENT)
            self.values_of = []  # (its values are the documents' now)
        return self.made[k]


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
