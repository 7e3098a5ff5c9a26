"""Local readings of the Nanjing seed (issue 8, item 6), as the whole catalog answers them.

A policy file's own cases run one policy at a time, so they cannot show how policies
settle between them (exclusivity groups). These tests do, on the real catalog.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.catalog.loader import Catalog
from app.domain.engine import evaluate_catalog
from app.domain.results import PriorAward


def _benchmark_holder() -> dict[str, Any]:
    return {
        "name": "南京示例制造股份有限公司",
        "kind": "enterprise",
        "location": {"province": "jiangsu", "city": "nanjing", "district": "qixia"},
        "compliance": {"serious_dishonesty": False},
        "recognitions": [
            {"kind": "quality_benchmark", "level": "national", "granted_on": "2024-03-01"},
            {"kind": "ip_benchmark", "level": "national", "granted_on": "2024-05-01"},
        ],
    }


def test_both_benchmark_titles_are_paid_in_the_same_year(catalog: Catalog) -> None:
    """Per title: each national benchmark title has its own 500,000 ceiling."""
    answers = {e.policy_id: e for e in evaluate_catalog(list(catalog), _benchmark_holder(), 2024)}
    for policy_id in ("nj-quality-benchmark", "nj-ip-benchmark"):
        assert answers[policy_id].status == "eligible", policy_id
        assert answers[policy_id].amount == Decimal("500000.00"), policy_id


def test_a_benchmark_paid_earlier_in_the_year_does_not_reduce_the_other(
    catalog: Catalog,
) -> None:
    # stored under the old shared group: it no longer reduces the other title
    history = [
        PriorAward(
            "nj-quality-benchmark",
            2024,
            Decimal("500000.00"),
            exclusivity_group="nj-national-benchmark",
        )
    ]
    answers = {
        e.policy_id: e for e in evaluate_catalog(list(catalog), _benchmark_holder(), 2024, history)
    }
    assert answers["nj-ip-benchmark"].status == "eligible"
    assert answers["nj-ip-benchmark"].amount == Decimal("500000.00")
