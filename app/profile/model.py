"""The enterprise profile a client sends (the contract's shape).

Every field but ``name`` is optional: a missing fact makes a policy undetermined,
never silently false or zero. Vocabulary words (industry, high-tech field, recognition
kinds and levels, places) are checked against the loaded catalog by
``app.services.vocabulary``, because the catalog, not this file, decides them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from app.profile.bounded import City, District, EnterpriseName, MapsTo, Park, Province
from app.profile.types import (
    Area,
    Count,
    Day,
    MoneyIn,
    Score,
    Share,
    SignedMoneyIn,
    StrictModel,
    Uscc,
    Word,
    Years,
)

YearKey = Annotated[str, StringConstraints(max_length=4, pattern=r"^(19|20|21)\d{2}$")]
PolicyKey = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z0-9]+)+$", max_length=80)]


class Location(StrictModel):
    province: Province | None = None
    city: City | None = None
    district: District | None = None
    park: Park | None = None


class Recognition(StrictModel):
    kind: Word
    level: Word | None = None
    granted_on: Day | None = None
    expires_on: Day | None = None


class IntellectualProperty(StrictModel):
    class_i: Count | None = Field(default=None, description="Class I IP items (invention patents…)")
    class_ii: Count | None = Field(
        default=None, description="Class II IP items (utility models, software…)"
    )


class Compliance(StrictModel):
    serious_dishonesty: bool | None = None
    major_incident_last_year: bool | None = None


class Lease(StrictModel):
    area_m2: Area | None = None
    start_on: Day | None = None


class Tax(StrictModel):
    book_based: bool | None = Field(default=None, description="assessed on its books (查账征收)")


class YearFacts(StrictModel):
    revenue: MoneyIn | None = None
    main_business_revenue: MoneyIn | None = None
    high_tech_revenue: MoneyIn | None = None
    operating_income: MoneyIn | None = None
    rd_expense: MoneyIn | None = None
    rd_expense_domestic: MoneyIn | None = None
    taxable_income: SignedMoneyIn | None = None
    total_assets: MoneyIn | None = None
    total_liabilities: MoneyIn | None = None
    equity_raised: MoneyIn | None = None
    rent_paid: MoneyIn | None = None
    incubated_high_tech_enterprises: Count | None = Field(
        default=None,
        description="for an incubation carrier: high-tech enterprises it incubated that year",
    )
    incubated_tech_smes: Count | None = Field(
        default=None,
        description="for an incubation carrier: technology-based SMEs it incubated that year",
    )
    loan_interest_paid: MoneyIn | None = Field(
        default=None, description="bank loan interest actually paid in the fiscal year"
    )
    performance: dict[PolicyKey, Score] | None = Field(
        default=None, description="performance score (0–100) given under a policy, by policy id"
    )
    rd_expense_q4: MoneyIn | None = Field(
        default=None, description="R&D expense of 1 October–31 December (2022: 2022年第28号)"
    )
    ic_rd_list: bool | None = Field(
        default=None, description="on the year's integrated-circuit list of 2023年第44号 (120%)"
    )
    machine_tool_rd_list: bool | None = Field(
        default=None, description="on the year's machine-tool (工业母机) list of 2023年第44号"
    )
    # The science ministry's ladder (国科发政〔2017〕115号, 国科发火〔2016〕195号).
    gross_income: MoneyIn | None = Field(
        default=None, description="收入总额 as the Corporate Income Tax Law defines it"
    )
    non_taxable_income: MoneyIn | None = Field(default=None, description="不征税收入 (0 when none)")
    national_science_award_top3: bool | None = Field(
        default=None,
        description="a national S&T award in the last five years, among the first three winners",
    )
    provincial_rd_institution: bool | None = Field(
        default=None, description="a recognised R&D institution of provincial level or above"
    )
    standard_lead_top5: bool | None = Field(
        default=None,
        description="led an international, national or industry standard in the last five years",
    )
    research_misconduct: bool | None = Field(
        default=None, description="serious research misconduct (科研严重失信) in the year"
    )
    # Look-backs by fiscal year (the industry ministry's helper adds the same two).
    major_incident: bool | None = Field(
        default=None, description="a major safety or quality incident or environmental violation"
    )
    tax_evasion: bool | None = Field(default=None, description="tax evasion in the year")
    # The industry ministry's ladder (工信部企业〔2022〕63号, 工信部企业〔2026〕2号).
    national_science_award_rank: Count | None = Field(
        default=None,
        description="best rank among the winning units of a national S&T award won in the year"
        " (0 when none)",
    )
    provincial_science_award_rank: Count | None = Field(
        default=None,
        description="best rank among the winning units of a provincial or ministerial S&T award"
        " won in the year (0 when none)",
    )
    maker_china: Word | None = Field(
        default=None, description="place in the national enterprise group of Maker China (创客中国)"
    )


class InnovativeSmeScore(StrictModel):
    """The three parts of the innovative-SME evaluation score (工信部企业〔2022〕63号 annex 1)."""

    innovation: Score | None = Field(default=None, description="innovation capability (0–40)")
    growth: Score | None = Field(default=None, description="growth (0–30)")
    specialization: Score | None = Field(default=None, description="specialization (0–30)")


class ProfileFacts(StrictModel):
    """Everything about an enterprise except its identity."""

    kind: (
        Annotated[
            Literal["enterprise", "incubator", "rd_institution", "platform"],
            MapsTo("enterprises.kind"),
        ]
        | None
    ) = None
    registered_on: Day | None = None
    application_date: Day | None = Field(
        default=None,
        description=(
            "the day the enterprise applies (or will apply) for a recognition: picks the "
            "version of the measures in force then and counts the days since registration"
        ),
    )
    location: Location | None = None
    industry: Word | None = None
    industry_chain: Word | None = Field(
        default=None, description="one of the catalog's industry chains"
    )
    hte_field: Word | None = None
    employees: Count | None = None
    tech_staff: Count | None = None
    rd_staff: Count | None = None
    recognitions: list[Recognition] | None = Field(default=None, max_length=200)
    ip: IntellectualProperty | None = None
    niche_years: Years | None = None
    national_market_share: Share | None = None
    own_brand: bool | None = None
    own_rd_institution: bool | None = None
    innovation_score: Score | None = None
    tech_sme_score: Score | None = Field(
        default=None, description="technology-based SME evaluation score"
    )
    specialized_sme_score: Score | None = Field(
        default=None, description="专精特新 SME evaluation score"
    )
    compliance: Compliance | None = None
    lease: Lease | None = None
    tax: Tax | None = None
    restricted_products: bool | None = Field(
        default=None, description="products in the state's prohibited or restricted categories"
    )
    foreign_invested: bool | None = Field(
        default=None, description="a foreign-invested enterprise (HK, Macao, Taiwan included)"
    )
    overseas_rd_institution: bool | None = Field(
        default=None, description="has built, or is building, an R&D institution abroad"
    )
    innovation_center_bid: bool | None = Field(
        default=None,
        description="bidding to become a national or provincial innovation centre",
    )
    innovative_sme_score: InnovativeSmeScore | None = None
    specialized_development_score: Score | None = Field(
        default=None, description="专精特新 development score computed on the ministry's platform"
    )
    years: dict[YearKey, YearFacts] | None = Field(default=None, max_length=30)


class EnterpriseProfile(ProfileFacts):
    uscc: Uscc | None = None
    name: EnterpriseName

    def facts(self) -> dict[str, Any]:
        """The profile as the engine and the database see it: JSON, money as strings."""
        return self.model_dump(mode="json", exclude_none=True)
