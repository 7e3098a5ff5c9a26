"""The open calculator's answer bytes, assembled from fragments, are the reference
shaping's bytes: ``dumps(check_eligibility(...))``, for every case profile of the
catalog, the benchmark's full profile and an empty one over fiscal years 2023-2026, and
the benchmark's varied profiles, for the whole catalog and for a selection of policies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from app.api.fastjson import dumps
from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog, load_catalog
from app.services.answer_bytes import eligibility_bytes
from app.services.matching import check_eligibility

ROOT = Path(__file__).resolve().parents[2]
YEARS = (2023, 2024, 2025, 2026)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "policy_catalog")


def _profiles(catalog: Catalog) -> list[tuple[dict[str, Any], int]]:
    """Each case profile as the API hands it to the engine, with its case's fiscal
    year; the API benchmark's full profile and an empty one in each year."""
    sys.path.insert(0, str(ROOT / "bench"))
    from api import PROFILE, varied_profiles

    def facts(profile: dict[str, Any]) -> dict[str, Any]:
        return EnterpriseProfile.model_validate({"name": "case", **profile}).facts()

    cases = [(facts(case.profile), case.fiscal_year) for p in catalog for case in p.cases]
    varied = [(facts(p), YEARS[i % len(YEARS)]) for i, p in enumerate(varied_profiles(40))]
    return cases + [(facts(p), year) for p in (PROFILE, {}) for year in YEARS] + varied


def test_the_assembled_answer_is_the_reference_answer(catalog: Catalog) -> None:
    profiles = _profiles(catalog)
    assert len(profiles) > 500
    some = [p.id for p in catalog][::3]
    for i, (facts, case_year) in enumerate(profiles):
        # The case's own year, and one of the four in turn.
        for year in {case_year, YEARS[i % len(YEARS)]}:
            reference = dumps(check_eligibility(catalog, facts, year))
            assert eligibility_bytes(catalog, facts, year) == reference
        if i % 16 == 0:
            # Again (reusing the reasons serialised before), and for a selection.
            assert eligibility_bytes(catalog, facts, year) == reference
            assert eligibility_bytes(catalog, facts, year, some) == dumps(
                check_eligibility(catalog, facts, year, some)
            )
