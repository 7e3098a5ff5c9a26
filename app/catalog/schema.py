"""The YAML format of the policy catalog, as pydantic models.

Every model forbids unknown keys, so a misspelt key stops the loader with the file,
the field and the fix instead of being silently ignored. The format is documented for
policy authors in ``policy_catalog/FORMAT.md``; keep the two in step.

Numbers in rules, formulas and caps are written either as a reference to one of the
version's ``parameters`` (``"$cap"``) or, for pure units such as ``12`` months, as a
literal. Each parameter says whether the source document gives it, a national rule
gives it, or it is a local implementing rule, so no figure is passed off as the
source's.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

Number = Decimal | str  # a literal decimal or "$parameter"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


# --------------------------------------------------------------------------- source


class Source(Strict):
    seed: str | None = Field(
        default=None, description="file name under shared/seeds the quote is taken from"
    )
    document: str = Field(min_length=1, description="title of the source document")
    document_number: str | None = Field(default=None, description="e.g. 宁委发〔2022〕1号")
    section: str = Field(min_length=1)
    quote: str = Field(min_length=1, description="the sentence quoted verbatim from the seed")


class Parameter(Strict):
    """One figure a version uses, with where it comes from."""

    value: Decimal
    unit: str = Field(min_length=1, description="yuan, share, m2, yuan/m2/month, years, score…")
    basis: Literal["given", "national_rule", "local_rule"]
    quote: str | None = Field(
        default=None, description="for given: the words of the seed that state the figure"
    )
    reference: str | None = Field(
        default=None, description="for national_rule: the document that states it"
    )
    note: str | None = Field(default=None, description="one line: why this value was chosen")

    @model_validator(mode="after")
    def _cited(self) -> Parameter:
        if self.basis == "given" and not self.quote:
            raise ValueError("a given parameter needs `quote`: the seed's words for the figure")
        if self.basis == "national_rule" and not self.reference:
            raise ValueError("a national_rule parameter needs `reference`: the document")
        if self.basis == "local_rule" and not self.note:
            raise ValueError("a local_rule parameter needs `note`: one line saying why")
        return self


# --------------------------------------------------------------------------- expressions


class FactExpr(Strict):
    """A fact of the profile; ``{fy}``, ``{fy-1}``… in the path name fiscal years."""

    fact: str = Field(min_length=1)


class SumYearsExpr(Strict):
    """Sum of ``years.<fy-k>.<name>`` for k in 0..span-1."""

    sum_years: str
    span: int = Field(ge=1, le=10)


class GrowthExpr(Strict):
    """Average yearly growth of ``years.<y>.<name>`` over ``span`` years ending at fy."""

    growth: str
    span: int = Field(default=1, ge=1, le=5)


class MonthsInYearExpr(Strict):
    """Months of the fiscal year on or after the date fact (12 when it is earlier)."""

    months_in_year: str


class RatioExpr(Strict):
    ratio: tuple[Expr, Expr]


class ProductExpr(Strict):
    product: list[Expr | Number] = Field(min_length=2)


class SumExpr(Strict):
    """a + b + …: e.g. R&D over the years an enterprise has operated."""

    sum: list[Expr | Number] = Field(min_length=2)


class DifferenceExpr(Strict):
    """a − b: e.g. total income less non-taxable income."""

    difference: tuple[Expr | Number, Expr | Number]


def _tag_by_key(*keys: str) -> Any:
    """Pick a union member by the first of ``keys`` present in the mapping.

    Each YAML node says what it is by its leading key (``all:``, ``fact:``,
    ``fixed:`` …); choosing the model from that key gives one clear error instead of
    one error per union member.
    """

    def tag(value: Any) -> str | None:
        if isinstance(value, dict):
            found = [k for k in keys if k in value]
            return found[0] if found else None
        for k in keys:
            attr = "not_" if k == "not" else k
            if hasattr(value, attr):
                return k
        return None

    return Discriminator(
        tag,
        custom_error_type="unknown_node",
        custom_error_message=f"expected one of the keys: {', '.join(keys)}",
    )


Expr = Annotated[
    Annotated[FactExpr, Tag("fact")]
    | Annotated[SumYearsExpr, Tag("sum_years")]
    | Annotated[GrowthExpr, Tag("growth")]
    | Annotated[MonthsInYearExpr, Tag("months_in_year")]
    | Annotated[RatioExpr, Tag("ratio")]
    | Annotated[ProductExpr, Tag("product")]
    | Annotated[SumExpr, Tag("sum")]
    | Annotated[DifferenceExpr, Tag("difference")],
    _tag_by_key(
        "fact", "sum_years", "growth", "months_in_year", "ratio", "product", "sum", "difference"
    ),
]

Op = Literal["eq", "ne", "gt", "ge", "lt", "le", "in", "not_in"]


# --------------------------------------------------------------------------- rules


class Labelled(Strict):
    id: str | None = Field(default=None, description="clause id shown in reasons")
    text: Text | None = Field(default=None, description="what the clause means, zh and en")
    gate: Literal["size"] | None = Field(
        default=None,
        description="size: a size cap; when it fails the rung is out of reach, not a next step",
    )


class AllRule(Labelled):
    all: list[Rule] = Field(min_length=1)


class AnyRule(Labelled):
    any: list[Rule] = Field(min_length=1)


class NotRule(Labelled):
    not_: Rule = Field(alias="not")


class FactRule(Labelled):
    """``fact op value``: value is a literal, a list for in/not_in, or "$param"."""

    fact: str
    op: Op
    value: Any


class CompareRule(Labelled):
    """``expr op value`` where value is a number, "$param" or another expression."""

    expr: Expr
    op: Literal["eq", "ne", "gt", "ge", "lt", "le"]
    value: Expr | Number


class RecognitionRule(Labelled):
    """The enterprise holds a recognition of this kind and level."""

    recognition: RecognitionTest


class RecognitionTest(Strict):
    kind: str
    levels: list[str] | None = None
    granted_from: int | None = Field(
        default=None, description="granted on or after Jan 1 of fy+granted_from (e.g. -1)"
    )
    granted_to: int | None = Field(
        default=None, description="granted on or before Dec 31 of fy+granted_to (e.g. 0)"
    )
    valid_in_year: bool = Field(
        default=False, description="not expired before Jan 1 of the fiscal year"
    )


class FirstTimeAboveRule(Labelled):
    """A yearly fact passes a threshold in the fiscal year and in no earlier year."""

    first_time_above: FirstTimeAbove


class FirstTimeAbove(Strict):
    fact: str = Field(description="yearly fact name, e.g. operating_income")
    threshold: Number
    lookback: int = Field(ge=1, le=20, description="earlier years that must be known")


class YearsSinceRule(Labelled):
    """Whole years from a date fact to Dec 31 of the fiscal year, compared."""

    years_since: str
    op: Literal["gt", "ge", "lt", "le"]
    value: Number


class DateWithinRule(Labelled):
    """A date fact lies within years relative to the fiscal year."""

    date_within: str
    from_year: int | None = Field(default=None, description="on or after Jan 1 of fy+from_year")
    to_year: int | None = Field(default=None, description="on or before Dec 31 of fy+to_year")


class FindingRule(Labelled):
    """A criterion only an official can settle (a market position "较为靠前", whether IP
    supports the main products): true or false once a reviewer has recorded a finding
    for the enterprise and fiscal year, unknown until then. Profiles cannot carry it."""

    finding: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="a key of facts.yaml `findings`")


class DaysBeforeApplicationRule(Labelled):
    """At least ``min`` days from a date fact to the application date (``application_date``,
    or the whole of year fy+1 when the profile does not give it)."""

    days_before_application: DaysBeforeApplication


class DaysBeforeApplication(Strict):
    since: str = Field(description="a date fact, e.g. registered_on")
    min: Number


Rule = Annotated[
    Annotated[AllRule, Tag("all")]
    | Annotated[AnyRule, Tag("any")]
    | Annotated[NotRule, Tag("not")]
    | Annotated[FactRule, Tag("fact")]
    | Annotated[CompareRule, Tag("expr")]
    | Annotated[RecognitionRule, Tag("recognition")]
    | Annotated[FirstTimeAboveRule, Tag("first_time_above")]
    | Annotated[YearsSinceRule, Tag("years_since")]
    | Annotated[DateWithinRule, Tag("date_within")]
    | Annotated[FindingRule, Tag("finding")]
    | Annotated[DaysBeforeApplicationRule, Tag("days_before_application")],
    _tag_by_key(
        "all",
        "any",
        "not",
        "fact",
        "expr",
        "recognition",
        "first_time_above",
        "years_since",
        "date_within",
        "finding",
        "days_before_application",
    ),
]


class SharedRule(Strict):
    """``policy_catalog/rules/<name>.yaml``: a rule several policies apply (``- use: name``),
    such as the SME size test; the loader inlines it with its parameters."""

    id: str
    text: Text
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    rule: Rule


# --------------------------------------------------------------------------- formulas


class GrowthTier(Strict):
    min: Number
    rate: Number


class GrowthRates(Strict):
    expr: Expr
    tiers: list[GrowthTier] = Field(min_length=1, description="highest min first")


class RateSchedule(Strict):
    """Rate applied to a base: by subsidy year first, then by growth tier, else default."""

    default: Number | None = None
    by_subsidy_year: dict[int, Number] = Field(default_factory=dict)
    by_growth: GrowthRates | None = None


class FixedFormula(Strict):
    fixed: Number


class ShareFormula(Strict):
    share: ShareOf


class ShareOf(Strict):
    base: Expr
    rate: RateSchedule


class PerformanceTier(Strict):
    min: Number
    share: Number


class PerformanceFormula(Strict):
    performance: PerformanceOf


class PerformanceOf(Strict):
    score: Expr
    of: Number = Field(description="the amount a share of which is paid")
    tiers: list[PerformanceTier] = Field(min_length=1, description="highest min first")


class PerUnitFormula(Strict):
    per_unit: PerUnitOf


class PerUnitOf(Strict):
    """quantity (capped) × unit price (capped) × periods × rate."""

    quantity: Expr
    quantity_cap: Number | None = None
    unit_price: Expr | None = None
    unit_price_cap: Number | None = None
    periods: Expr | Number
    rate: RateSchedule
    not_above: Expr | None = Field(
        default=None,
        description="never more than this fact × the rate (e.g. the share of the rent actually paid)",
    )


class ReviewerFormula(Strict):
    set_by_reviewer: Text = Field(description="who sets the amount and on what grounds")


class TaxRateWhen(Strict):
    when: Rule
    rate: Number


class ShareWhen(Strict):
    """A share (and, if given, a base) for the enterprises a rule picks out."""

    when: Rule
    share: Number
    base: Expr | None = Field(
        default=None, description="the base for these enterprises when it is not `base`"
    )


class TaxEstimateFormula(Strict):
    tax_estimate: TaxEstimate


class TaxEstimate(Strict):
    base: Expr
    share: Number = Field(description="share of the base that is deducted or taxed less")
    share_when: list[ShareWhen] = Field(
        default_factory=list,
        description="the first that holds gives the share (and base); none: `share` of `base`",
    )
    tax_rate: Number = Field(description="the enterprise's rate when no `tax_rate_when` holds")
    tax_rate_when: list[TaxRateWhen] = Field(default_factory=list)


class NoAmountFormula(Strict):
    no_amount: Text = Field(description="what the enterprise gets instead of money")


Formula = Annotated[
    Annotated[FixedFormula, Tag("fixed")]
    | Annotated[ShareFormula, Tag("share")]
    | Annotated[PerformanceFormula, Tag("performance")]
    | Annotated[PerUnitFormula, Tag("per_unit")]
    | Annotated[ReviewerFormula, Tag("set_by_reviewer")]
    | Annotated[TaxEstimateFormula, Tag("tax_estimate")]
    | Annotated[NoAmountFormula, Tag("no_amount")],
    _tag_by_key(
        "fixed",
        "share",
        "performance",
        "per_unit",
        "set_by_reviewer",
        "tax_estimate",
        "no_amount",
    ),
]


# --------------------------------------------------------------------------- caps, payer


class Caps(Strict):
    """Limits after the formula. One award per policy and fiscal year always holds (the
    ledger's unique index keeps it too), so a yearly ceiling is the per-award ceiling:
    there is no second award in a year whose room it could share."""

    per_award: Number | None = None
    max_years: Number | None = Field(default=None, description="fiscal years with an award")
    once_per: Literal["enterprise", "recognition"] | None = None
    recognition_kind: str | list[str] | None = Field(
        default=None,
        description=(
            "with once_per: recognition, the recognition that keys it; a list pays each "
            "listing once (keyed by the latest grant among the kinds)"
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _no_yearly_room(cls, data: Any) -> Any:
        if isinstance(data, dict) and "per_enterprise_per_year" in data:
            raise ValueError(
                "`per_enterprise_per_year` is not a cap: one award per policy and fiscal "
                "year always holds, so write the yearly ceiling as `per_award`"
            )
        return data

    @model_validator(mode="after")
    def _recognition_named(self) -> Caps:
        if self.once_per == "recognition" and not self.recognition_kind:
            raise ValueError("once_per: recognition needs `recognition_kind`")
        return self


class Exclusivity(Strict):
    group: str
    mode: Literal["highest_only", "top_up"]
    note: Text


class Payer(Strict):
    level: Literal["national", "province", "city", "district", "park"]
    jurisdiction: str | None = Field(
        default=None, description="fixed payer (city slug); None: the enterprise's own"
    )


class Budget(Strict):
    annual: Number = Field(description="per payer jurisdiction and fiscal year")


class Effective(Strict):
    from_: date = Field(alias="from")
    to: date | None = None


class Version(Strict):
    version: str
    effective: Effective
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    eligibility: Rule
    formula: Formula
    caps: Caps = Field(default_factory=Caps)
    exclusivity: Exclusivity | None = None
    budget: Budget | None = None


# --------------------------------------------------------------------------- cases


class CaseHistory(Strict):
    policy_id: str | None = None
    fiscal_year: int
    amount: Decimal
    recognition_key: str | None = None


class CaseExpect(Strict):
    status: Literal["eligible", "ineligible", "undetermined"]
    amount: Decimal | None = None
    amount_at_most: Decimal | None = None
    missing_facts: list[str] | None = None
    findings_required: list[str] | None = None
    reason_contains: str | None = None


class Case(Strict):
    name: str
    fiscal_year: int
    profile: dict[str, Any]
    history: list[CaseHistory] = Field(default_factory=list)
    findings: dict[str, bool] = Field(
        default_factory=dict, description="findings a reviewer has recorded, by key"
    )
    expect: CaseExpect


# --------------------------------------------------------------------------- policy


class PolicyFile(Strict):
    id: str = Field(pattern=r"^[a-z]{2}(-[a-z0-9]+)+$")
    title: Text
    summary: Text
    kind: Literal["award", "tax_benefit", "recognition", "service"]
    source: Source
    jurisdiction: str = Field(description="slug of the issuing jurisdiction")
    payer: Payer | None = None
    versions_by: Literal["fiscal_year", "application"] = Field(
        default="fiscal_year",
        description=(
            "application: the version in force on the profile's application_date, or "
            "without one the latest in force during year fy+1 (for recognitions whose "
            "fiscal year is the last complete accounting year before the application)"
        ),
    )
    versions: list[Version] = Field(min_length=1)
    cases: list[Case] = Field(min_length=1)


for _model in (
    AllRule,
    AnyRule,
    NotRule,
    RatioExpr,
    ProductExpr,
    SumExpr,
    DifferenceExpr,
    TaxRateWhen,
    Version,
    SharedRule,
):
    _model.model_rebuild()
