"""The fact vocabulary (``policy_catalog/facts.yaml``) as pydantic models.

It names every fact an enterprise profile may carry, with its type, unit and a
bilingual description, and the enumerations whose words a profile must use
(industries, high-tech fields, recognition kinds and levels, places).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


FactType = Literal[
    "money", "decimal", "share", "integer", "score", "date", "boolean", "enum", "text", "list"
]


class FactSpec(_Strict):
    """One fact. ``years.*.x`` is the fact ``x`` of every fiscal year."""

    path: str = Field(pattern=r"^[a-z_][a-z0-9_]*(\.([a-z_][a-z0-9_]*|\*))*$")
    type: FactType
    unit: str | None = None
    enum: str | None = Field(default=None, description="name of an enumeration, for type enum")
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Word(_Strict):
    value: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class District(Word):
    parks: list[Word] = Field(default_factory=list)


class City(Word):
    districts: list[District] = Field(default_factory=list)


class Province(Word):
    cities: list[City] = Field(default_factory=list)


class FindingSpec(_Strict):
    """A criterion no data settles, which a reviewer records on an enterprise."""

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class VocabularyFile(_Strict):
    facts: list[FactSpec] = Field(min_length=1)
    findings: list[FindingSpec] = Field(default_factory=list)
    enumerations: dict[str, list[Word]]
    places: list[Province] = Field(min_length=1)

    @field_validator("findings", mode="before")
    @classmethod
    def _none_is_empty(cls, value: object) -> object:
        # `findings:` with no entries yet reads as null in YAML.
        return [] if value is None else value
