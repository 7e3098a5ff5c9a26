"""What a policy file's worked case gives the engine: its award history and findings."""

from __future__ import annotations

from datetime import date

from app.catalog.schema import Case, PolicyFile
from app.domain.findings import Findings, RecordedFinding
from app.domain.results import PriorAward


def case_history(policy: PolicyFile, case: Case) -> list[PriorAward]:
    return [
        PriorAward(h.policy_id or policy.id, h.fiscal_year, h.amount, h.recognition_key)
        for h in case.history
    ]


def case_findings(case: Case) -> Findings:
    """The findings the case says a reviewer has recorded."""
    return {
        key: RecordedFinding(key, met, "case reviewer", date(2026, 11, 30))
        for key, met in case.findings.items()
    }
