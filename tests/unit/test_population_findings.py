"""The population path reads the reviewers' findings of the rows that have some.

A row with findings is settled whole by the per-profile engine with them (as a row
with an award history is), so a matching run answers as the enterprise's own
entitlements would; rows without stay undetermined where a finding is required.
"""

from __future__ import annotations

from datetime import date

from app.domain.batch import evaluate_population, required_columns, table_from_profiles
from app.domain.findings import RecordedFinding
from app.services.population import Row, evaluate_rows, evaluate_rows_one_by_one

from .builders import FY, policy

REVENUE = {"fact": "years.{fy}.revenue", "op": "ge", "value": 1000}
POSITION = {
    "id": "market-position",
    "text": {"zh": "市场地位较为靠前", "en": "a leading market position"},
    "finding": "market_position",
}
FOUND = {
    "market_position": RecordedFinding("market_position", True, "portal:审核", date(2026, 6, 1))
}
REFUSED = {
    "market_position": RecordedFinding("market_position", False, "portal:审核", date(2026, 6, 2))
}


def _profiles(n: int) -> list[dict[str, object]]:
    return [{"years": {str(FY): {"revenue": 5000}}} for _ in range(n)]


def test_rows_with_findings_are_settled_with_them() -> None:
    policies = [
        policy({"all": [REVENUE, POSITION]}, policy_id="xx-found"),
        policy(REVENUE, policy_id="xx-plain"),
    ]
    profiles = _profiles(4)
    table = table_from_profiles(profiles, required_columns(policies, FY))
    result = evaluate_population(policies, table, FY, findings={1: FOUND, 2: REFUSED, 3: {}})
    assert [result.status_of("xx-found", i) for i in range(4)] == [
        "undetermined",
        "eligible",
        "ineligible",
        "undetermined",
    ]
    assert result.amount("xx-found", 1) is not None
    assert [result.status_of("xx-plain", i) for i in range(4)] == ["eligible"] * 4
    assert result.full_rows == (1, 2)
    explained = {e.policy_id: e for e in result.explain(1)}
    assert explained["xx-found"].findings_used["market_position"]["reviewer"] == "portal:审核"


def test_evaluate_rows_matches_the_per_profile_engine_with_findings() -> None:
    policies = [policy({"all": [REVENUE, POSITION]}, policy_id="xx-found")]
    rows = [
        Row(f"e{i}", p, findings=f)
        for i, (p, f) in enumerate(zip(_profiles(3), [{}, FOUND, REFUSED], strict=True))
    ]
    batch = evaluate_rows(policies, rows, FY)
    assert batch == evaluate_rows_one_by_one(policies, rows, FY)
    assert [answers[0].status for answers in batch] == ["undetermined", "eligible", "ineligible"]
