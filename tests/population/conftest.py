"""A small stored population for the matching and simulation tests (both databases)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from app.api.schemas.profile import EnterpriseProfile
from app.catalog.loader import Catalog, load_catalog
from app.db.session import make_engine, make_sessionmaker, migrate
from app.services.actors import SYSTEM
from app.services.enterprises import create_enterprise
from tests.helpers import random_uscc

CATALOG = Path(__file__).resolve().parents[2] / "policy_catalog"
DISTRICTS = ["jiangning", "xuanwu", "gulou", "qixia"]


def random_profile(rng: random.Random) -> dict[str, Any]:
    """A plausible Nanjing enterprise: log-normal revenue, rare honours, facts sometimes missing."""
    revenue = round(rng.lognormvariate(17, 1.3), 2)
    recognitions = []
    for kind, share in (
        ("green_factory", 0.15),
        ("green_supply_chain", 0.05),
        ("quality_benchmark", 0.05),
        ("service_manufacturing_demo", 0.05),
        ("high_tech_enterprise", 0.3),
    ):
        if rng.random() < share:
            recognitions.append(
                {
                    "kind": kind,
                    "level": "national",
                    "granted_on": f"{rng.choice([2022, 2023, 2024])}-06-01",
                }
            )
    profile: dict[str, Any] = {
        "uscc": random_uscc(rng),
        "name": f"企业{rng.randrange(10**6)}",
        "kind": "enterprise",
        "registered_on": f"{rng.randrange(2005, 2023)}-03-01",
        "location": {"province": "jiangsu", "city": "nanjing", "district": rng.choice(DISTRICTS)},
        "industry": rng.choice(["software_information", "manufacturing", "wholesale_retail"]),
        "recognitions": recognitions,
        "compliance": {
            "serious_dishonesty": rng.random() < 0.03,
            "major_incident_last_year": False,
        },
        "years": {
            str(y): {
                "revenue": f"{revenue * (1 + 0.1 * (y - 2024)):.2f}",
                "operating_income": f"{revenue * (1 + 0.1 * (y - 2024)):.2f}",
                "rd_expense": f"{revenue * 0.04:.2f}",
                "taxable_income": f"{revenue * 0.08:.2f}",
            }
            for y in (2021, 2022, 2023, 2024)
        },
    }
    if rng.random() < 0.2:
        del profile["compliance"]
    if rng.random() < 0.1:
        profile["years"]["2024"]["performance"] = {
            "nj-innovation-consortium": rng.randrange(50, 100)
        }
        profile["recognitions"].append(
            {"kind": "consortium_leader", "level": "municipal", "granted_on": "2023-01-01"}
        )
    return profile


@pytest.fixture
def population(fresh_db_url: URL) -> Iterator[tuple[sessionmaker[Session], Catalog, list[str]]]:
    migrate(fresh_db_url)
    engine = make_engine(fresh_db_url)
    make_session = make_sessionmaker(engine)
    catalog = load_catalog(CATALOG)
    rng = random.Random(2024)
    ids = []
    with make_session.begin() as session:
        for _ in range(120):
            enterprise, _ = create_enterprise(
                session, catalog, EnterpriseProfile.model_validate(random_profile(rng)), SYSTEM
            )
            ids.append(enterprise.id)
    yield make_session, catalog, ids
    engine.dispose()
