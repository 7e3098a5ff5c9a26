"""Facts stay honest: every policy is there, quotes are verbatim, given figures exact."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from app.catalog.loader import Catalog

SOURCES = Path(__file__).resolve().parents[2] / "policy_catalog" / "sources"

# The ids of POLICIES.md (shared/design): part of the public contract.
POLICY_IDS = {
    "nj-innovation-consortium",
    "nj-tech-innovation-demo",
    "nj-quality-benchmark",
    "nj-ip-benchmark",
    "nj-hte-green-channel",
    "nj-startup-rent-subsidy",
    "cn-hte-tax-rate",
    "cn-rd-super-deduction",
    "nj-generic-tech-platform",
    "nj-public-platform",
    "nj-software-revenue-milestone",
    "nj-service-manufacturing",
    "nj-green-manufacturing",
    "nj-overseas-innovation",
    "js-incubator-performance",
    "cn-tech-sme",
    "cn-high-tech-enterprise",
    "cn-specialized-sme",
    "cn-little-giant",
}

# Figures POLICIES.md marks as given by the source: (policy, value) must be a given parameter.
GIVEN = [
    ("nj-innovation-consortium", "5000000"),
    ("nj-tech-innovation-demo", "2000000"),
    ("nj-quality-benchmark", "500000"),
    ("nj-ip-benchmark", "500000"),
    ("nj-startup-rent-subsidy", "1"),
    ("nj-startup-rent-subsidy", "3"),
    ("nj-generic-tech-platform", "5000000"),
    ("nj-software-revenue-milestone", "100000000"),
    ("nj-service-manufacturing", "1000000"),
    ("nj-green-manufacturing", "500000"),
    ("nj-overseas-innovation", "1000000"),
]


def _squash(text: str) -> str:
    """Whitespace folded: YAML folds a long quote's lines, the words stay verbatim."""
    return re.sub(r"\s+", " ", text).strip()


def _seed(name: str) -> str:
    return _squash((SOURCES / name).read_text(encoding="utf-8"))


def test_every_contract_policy_is_in_the_catalog(catalog: Catalog) -> None:
    assert set(catalog.policies) >= POLICY_IDS, (
        f"missing: {sorted(POLICY_IDS - set(catalog.policies))}"
    )


def test_source_quotes_are_verbatim(catalog: Catalog) -> None:
    for policy in catalog:
        if policy.source.seed is None:
            assert policy.source.document_number, f"{policy.id}: a national rule names its document"
            continue
        assert _squash(policy.source.quote) in _seed(policy.source.seed), (
            f"{policy.id}: quote not in seed"
        )


def test_given_parameters_quote_their_seed(catalog: Catalog) -> None:
    for policy in catalog:
        for version in policy.versions:
            for name, parameter in version.parameters.items():
                if parameter.basis != "given":
                    continue
                assert policy.source.seed, (
                    f"{policy.id}.{name}: given, but the policy cites no seed"
                )
                assert parameter.quote is not None
                assert _squash(parameter.quote) in _seed(policy.source.seed), f"{policy.id}.{name}"


@pytest.mark.parametrize(("policy_id", "value"), GIVEN)
def test_given_figures_are_in_the_catalog_exactly(
    catalog: Catalog, policy_id: str, value: str
) -> None:
    policy = catalog.policies[policy_id]
    given = {p.value for v in policy.versions for p in v.parameters.values() if p.basis == "given"}
    assert Decimal(value) in given, (
        f"{policy_id}: {value} is given by the source but not a given parameter"
    )
