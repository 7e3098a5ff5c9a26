"""Builders for the rows the database tests need (flushed, inside the test's
rolled-back transaction). Keys that must be unique are made unique, because the
session's database is shared with tests that commit (see ``tests/db/support.py``)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import Award, Budget, Enterprise, PolicyVersion, ProfileVersion
from tests.db.support import any_uscc, sha256, unique


@pytest.fixture
def make_enterprise(db_session: Session) -> Callable[..., Enterprise]:
    def make(**fields: Any) -> Enterprise:
        defaults: dict[str, Any] = {
            "uscc": any_uscc(),
            "name": "南京示例科技有限公司",
            "kind": "enterprise",
            "province": "jiangsu",
            "city": "nanjing",
            "district": "jiangning",
        }
        return repo.add_enterprise(db_session, Enterprise(**(defaults | fields)))

    return make


@pytest.fixture
def make_profile_version(db_session: Session) -> Callable[..., ProfileVersion]:
    def make(enterprise: Enterprise, version: int = 1, **fields: Any) -> ProfileVersion:
        profile = fields.pop("profile", {"name": enterprise.name, "employees": 120})
        return repo.add_profile_version(
            db_session,
            ProfileVersion(
                enterprise_id=enterprise.id,
                version=version,
                profile=profile,
                profile_hash=sha256(repr(profile)),
                created_by="tester",
                **fields,
            ),
        )

    return make


@pytest.fixture
def policy_version(db_session: Session) -> PolicyVersion:
    return repo.upsert_policy_version(
        db_session,
        policy_id="nj-green-manufacturing",
        version="2022.1",
        content_hash=sha256("nj-green-manufacturing 2022.1"),
        document={"id": "nj-green-manufacturing", "caps": {"per_award": "500000.00"}},
    )


@pytest.fixture
def make_budget(db_session: Session) -> Callable[..., Budget]:
    def make(amount: str = "1000000.00", **fields: Any) -> Budget:
        defaults: dict[str, Any] = {
            "policy_id": "nj-green-manufacturing",
            "fiscal_year": 2024,
            "payer_level": "city",
            "payer_jurisdiction": unique("budget-payer"),
            "amount": Decimal(amount),
        }
        return repo.add_budget(db_session, Budget(**(defaults | fields)))

    return make


@pytest.fixture
def make_award(
    db_session: Session,
    make_enterprise: Callable[..., Enterprise],
    make_profile_version: Callable[..., ProfileVersion],
    policy_version: PolicyVersion,
) -> Callable[..., Award]:
    """``make_award(enterprise=None, **fields)``: an award in status ``computed``."""

    def make(enterprise: Enterprise | None = None, **fields: Any) -> Award:
        enterprise = enterprise or make_enterprise()
        profile = repo.get_latest_profile_version(db_session, enterprise.id)
        profile = profile or make_profile_version(enterprise)
        defaults: dict[str, Any] = {
            "enterprise_id": enterprise.id,
            "policy_id": policy_version.policy_id,
            "policy_version_id": policy_version.id,
            "policy_version": policy_version.version,
            "fiscal_year": 2024,
            "status": "computed",
            "amount": Decimal("500000.00"),
            "uncapped_amount": Decimal("612345.67"),
            "amount_basis": "computed",
            "payer_level": "city",
            "payer_jurisdiction": "nanjing",
            "catalog_hash": sha256("catalog"),
            "profile_version_id": profile.id,
            "profile_version": profile.version,
            "trace": {"steps": [{"clause": "3.7", "met": True}]},
            "created_by": "tester",
        }
        return repo.add_award(db_session, Award(**(defaults | fields)))

    return make
