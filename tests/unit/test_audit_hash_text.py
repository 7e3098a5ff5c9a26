"""The audit record's hashed text cut around the values only the append lock gives
(``audit.record_hash_text``), from which PostgreSQL chains an approval's record
itself: put back together, it hashes as ``record_hash`` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.catalog.loader import sha256
from app.services.audit import record_hash, record_hash_text

PAYLOADS = [
    {},
    {"from": "public_notice", "to": "approved", "reason": None, "amount": "10000.00"},
    {"reason": '公示期满 "无异议"\n\\ \u2028 ok', "budget_id": "b-1", "notice_end": None},
    {"z": [1, 2.5, {"b": True, "a": None}], "a": "seq"},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_text_put_back_together_hashes_as_the_record(payload: dict[str, object]) -> None:
    actor, action, object_id = "portal:江宁区门户#ab12", "award.approved", "award-1"
    before, after = record_hash_text(actor, action, "award", object_id, payload)
    for seq, at in [
        (1, datetime(2025, 1, 6, 9, 30, tzinfo=UTC)),
        (12345678901, datetime(2025, 1, 6, 17, 30, 0, 5, tzinfo=timezone(timedelta(hours=8)))),
    ]:
        prev = "ab" * 32
        iso = at.astimezone(UTC).isoformat(timespec="microseconds")
        assert sha256(prev + before + iso + after + str(seq) + "}") == record_hash(
            prev, seq, at, actor, action, "award", object_id, payload
        )
