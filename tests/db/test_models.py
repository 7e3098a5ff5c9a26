"""Every model survives a round trip through both databases unchanged."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from app.db.models import (
    ApiKey,
    AuditLog,
    Award,
    AwardEvent,
    Base,
    Budget,
    CatalogLoad,
    Enterprise,
    IdempotencyRecord,
    MatchingRun,
    PolicyVersion,
    ProfileVersion,
    new_id,
    new_ids,
)
from tests.db.support import any_uscc, next_seq, sha256, unique


def columns(obj: Base) -> dict[str, Any]:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


# Non-ASCII, nesting, decimals-as-strings, nulls and booleans: what profiles and traces hold.
DOCUMENT = {
    "name": "南京示例科技有限公司",
    "years": {"2024": {"revenue": "48000000.00", "performance": {"nj-x": 92}}},
    "recognitions": [{"kind": "high_tech_enterprise", "expires_on": "2026-11-29"}],
    "own_brand": True,
    "park": None,
}


def test_every_model_round_trips(db_session: Session) -> None:
    moment = datetime(2024, 6, 1, 8, 0, 0, 1, tzinfo=UTC)
    enterprise = Enterprise(
        uscc=any_uscc(),
        name="南京示例科技有限公司",
        kind="enterprise",
        province="jiangsu",
        city="nanjing",
        district="jiangning",
        park="jiangning-high-tech-zone",
        current_version=2,
        created_at=moment,
        updated_at=moment,
    )
    db_session.add(enterprise)
    db_session.flush()
    profile = ProfileVersion(
        enterprise_id=enterprise.id,
        version=1,
        profile=DOCUMENT,
        profile_hash=sha256("p"),
        created_by="portal:nanjing",
        created_at=moment,
    )
    policy = PolicyVersion(
        policy_id="nj-green-manufacturing",
        version="2022.1",
        content_hash=sha256("policy"),
        document=DOCUMENT,
        first_loaded_at=moment,
    )
    budget = Budget(
        policy_id="nj-green-manufacturing",
        fiscal_year=2024,
        payer_level="city",
        payer_jurisdiction=unique("payer"),
        amount=Decimal("10000000.00"),
        committed=Decimal("500000.00"),
        disbursed=Decimal("0.01"),
        released=Decimal("0.00"),
    )
    rows: list[Base] = [profile, policy, budget]
    db_session.add_all(rows)
    db_session.flush()
    award = Award(
        enterprise_id=enterprise.id,
        policy_id=policy.policy_id,
        policy_version_id=policy.id,
        policy_version=policy.version,
        fiscal_year=2024,
        status="public_notice",
        amount=Decimal("500000.00"),
        uncapped_amount=Decimal("612345.67"),
        amount_basis="computed",
        payer_level="city",
        payer_jurisdiction="nanjing",
        budget_id=budget.id,
        catalog_hash=sha256("catalog"),
        profile_version_id=profile.id,
        profile_version=1,
        trace=DOCUMENT,
        recognition_key="green_factory:national:2023",
        exclusivity_group="nj-green",
        revision=2,
        notice_start=date(2024, 7, 1),
        notice_end=date(2024, 7, 10),
        created_by="officer:1",
    )
    db_session.add(award)
    db_session.flush()
    # A revision: same fields, new id, pointing at the award it replaces.
    fields = {key: value for key, value in columns(award).items() if key != "id"}
    revised = Award(**(fields | {"status": "computed"}))
    revised.supersedes_id = award.id
    award.status = "superseded"
    api_key = ApiKey(
        prefix=unique("pk"),
        secret_hash=sha256("secret"),
        role="enterprise",
        enterprise_id=enterprise.id,
        jurisdiction="nanjing",
        label="enterprise app",
        revoked_at=moment,
    )
    db_session.add_all([revised, api_key])
    db_session.flush()
    more: list[Base] = [
        AwardEvent(
            award_id=award.id,
            from_status="computed",
            to_status="public_notice",
            actor="officer:1",
            reason="公示",
            details={"notice_days": 7},
        ),
        IdempotencyRecord(
            api_key_id=api_key.id,
            key="c0ffee" * 40,
            method="POST",
            path="/v1/awards",
            request_hash=sha256("body"),
            status_code=201,
            response_body=DOCUMENT,
        ),
        CatalogLoad(catalog_hash=sha256("catalog"), policy_count=17, loaded_by="cli"),
        AuditLog(
            seq=next_seq(db_session),
            actor="officer:1",
            action="award.created",
            object_type="award",
            object_id=award.id,
            payload=DOCUMENT,
            prev_hash="0" * 64,
            hash=sha256("entry"),
        ),
        MatchingRun(
            fiscal_year=2024,
            status="finished",
            progress=10,
            total=10,
            parameters={"district": "jiangning"},
            result={"eligible": 3},
            started_by="admin",
            finished_at=moment,
            error="none",
            number=7,
        ),
    ]
    db_session.add_all(more)
    db_session.flush()

    everything = [enterprise, *rows, award, revised, api_key, *more]
    expected = [(type(obj), columns(obj)) for obj in everything]
    db_session.expunge_all()
    for model, values in expected:
        primary_key = values["seq"] if model is AuditLog else values["id"]
        loaded = db_session.get_one(model, primary_key)
        assert columns(loaded) == values, model.__name__


def test_ids_are_uuid7s_in_the_order_they_were_made() -> None:
    before = new_id()
    ids = new_ids(2_000)
    time.sleep(0.002)  # (ids of one millisecond are ordered by their random bits only)
    after = new_id()
    assert len(set(ids)) == 2_000 and new_ids(0) == []
    assert ids == sorted(ids)  # made together: ascending
    assert before[:13] <= ids[0] and ids[-1] < after  # later ones sort later
    for made in [before, *ids, after]:
        parsed = uuid.UUID(made)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, made)
        # the first 48 bits are the Unix time in milliseconds
        assert abs(int(made[:8] + made[9:13], 16) / 1000 - time.time()) < 60
    assert len(new_id()) == len(ids[0]) == 36
