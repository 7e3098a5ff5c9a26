"""The self-check form, built from the catalog's fact vocabulary, and its round trip.

Every field's name is the fact's profile path (``employees``, ``years.2024.revenue``,
``recognitions.0.kind``), so a missing fact the engine names links straight to its
field, and a form reads into the profile the API takes (``POST /v1/eligibility``)
and back. An empty field is a fact not given: the rules that read it stay unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.catalog.loader import Catalog

RECOGNITION_ROWS = 4
YEARS_SHOWN = 3  # the fiscal year and the two before it: the look-backs the rules read
_RECOGNITION_PARTS = ("kind", "level", "granted_on", "expires_on")
_NUMBERS = ("money", "decimal", "share", "score")


@dataclass(frozen=True)
class Choice:
    value: str
    zh: str
    en: str


@dataclass(frozen=True)
class FormField:
    name: str
    kind: str  # the fact's type: enum, date, integer, money, decimal, share, score, boolean, text
    zh: str
    en: str
    unit: str | None = None
    choices: tuple[Choice, ...] = ()

    @property
    def id(self) -> str:
        return "f-" + self.name


@dataclass(frozen=True)
class ProfileForm:
    fiscal_year: int
    years: tuple[int, ...]
    facts: tuple[FormField, ...]
    #: (fact, one field per year shown)
    yearly: tuple[tuple[FormField, tuple[FormField, ...]], ...]
    recognitions: tuple[tuple[FormField, ...], ...]
    names: frozenset[str] = field(default_factory=frozenset)

    def field_for(self, path: str) -> str | None:
        """The id of the field a missing fact's path names, if the form has one."""
        if path == "recognitions":
            return "f-recognitions.0.kind"
        return "f-" + path if path in self.names else None


def _choices(catalog: Catalog, enumeration: str | None) -> tuple[Choice, ...]:
    vocabulary = catalog.vocabulary
    if enumeration in ("province", "city", "district", "park"):
        return tuple(Choice(w.value, w.zh, w.en) for w in _places(catalog, enumeration))
    words = vocabulary.enumerations.get(enumeration or "", [])
    return tuple(Choice(w.value, w.zh, w.en) for w in words)


def _places(catalog: Catalog, level: str) -> Iterable[Any]:
    for province in catalog.vocabulary.places:
        if level == "province":
            yield province
        for city in province.cities:
            if level == "city":
                yield city
            for district in city.districts:
                if level == "district":
                    yield district
                if level == "park":
                    yield from district.parks


def _field(catalog: Catalog, name: str, spec: Any) -> FormField:
    return FormField(
        name=name,
        kind=spec.type,
        zh=spec.zh,
        en=spec.en,
        unit=spec.unit,
        choices=_choices(catalog, spec.enum) if spec.type == "enum" else (),
    )


def profile_form(catalog: Catalog, fiscal_year: int) -> ProfileForm:
    years = tuple(fiscal_year - back for back in range(YEARS_SHOWN))
    facts: list[FormField] = [
        FormField("name", "text", "企业名称", "name of the enterprise"),
    ]
    yearly = []
    recognition_specs = {}
    for spec in catalog.vocabulary.facts:
        parts = spec.path.split(".")
        if spec.type == "list":
            continue
        if parts[0] == "recognitions":
            recognition_specs[parts[-1]] = spec
        elif parts[0] == "years" and len(parts) == 3:
            yearly.append(
                (
                    _field(catalog, spec.path, spec),
                    tuple(_field(catalog, f"years.{y}.{parts[2]}", spec) for y in years),
                )
            )
        elif "*" not in parts:
            facts.append(_field(catalog, spec.path, spec))
    recognitions = tuple(
        tuple(
            _field(catalog, f"recognitions.{row}.{part}", recognition_specs[part])
            for part in _RECOGNITION_PARTS
        )
        for row in range(RECOGNITION_ROWS)
    )
    names = {f.name for f in facts}
    names |= {f.name for _, per_year in yearly for f in per_year}
    names |= {f.name for row in recognitions for f in row}
    return ProfileForm(
        fiscal_year, years, tuple(facts), tuple(yearly), recognitions, frozenset(names)
    )


def _value(kind: str, text: str) -> Any:
    """A form's text as the profile's JSON has it (the profile model checks it after)."""
    if kind == "integer" and text.lstrip("-").isdigit():
        return int(text)
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if kind in _NUMBERS:
        return text.replace(",", "").replace(" ", "")
    return text


def read_profile(form: ProfileForm, values: Mapping[str, str]) -> dict[str, Any]:
    """The profile the form's values describe; empty fields are facts not given."""
    kinds = {f.name: f.kind for f in form.facts}
    kinds |= {f.name: f.kind for _, per_year in form.yearly for f in per_year}
    kinds |= {f.name: f.kind for row in form.recognitions for f in row}
    profile: dict[str, Any] = {}
    rows: dict[int, dict[str, Any]] = {}
    for name, kind in kinds.items():
        text = (values.get(name) or "").strip()
        if not text:
            continue
        parts = name.split(".")
        if parts[0] == "recognitions":
            rows.setdefault(int(parts[1]), {})[parts[2]] = _value(kind, text)
            continue
        node = profile
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = _value(kind, text)
    if rows:
        profile["recognitions"] = [rows[i] for i in sorted(rows)]
    return profile


def form_values(profile: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """The form's values for a profile (a loaded file): its paths flattened to text."""
    values: dict[str, str] = {}
    for key, value in profile.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            values |= form_values(value, name + ".")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, Mapping):
                    values |= form_values(item, f"{name}.{index}.")
        elif isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif value is not None:
            values[name] = str(value)
    return values


def field_name(location: Iterable[Any]) -> str:
    """A profile error's location (``("years", "2024", "revenue")`` or a JSON pointer's
    parts) as the form field's name."""
    return ".".join(str(part) for part in location)
