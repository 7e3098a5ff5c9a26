"""The audit log is append-only and tamper-evident.

- after real activity through the server the chain verifies, record by record;
- the database itself refuses UPDATE and DELETE of audit rows (triggers on both
  backends) and TRUNCATE (PostgreSQL);
- an attacker who switches the triggers off and edits a row is caught: verify names
  the edited record;
- cutting the tail is caught against a checkpoint kept from before, and so is
  re-growing the log over the cut.

Tampering is done with a plain connection on the module's own database, really
committed (the server must see it), and undone afterwards so the tests stay
independent; each undo is itself checked by a clean verify.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from app.db.models import AuditLog
from app.services.audit import record_hash
from tests.ledger.server import LedgerServer
from tests.ledger.support import (
    NOTICE,
    act,
    audit_events,
    compute,
    ok,
    platform_profile,
    register,
    verify,
)

YEAR = 2034  # this module's awards and budget


@pytest.fixture(scope="module", autouse=True)
def activity(admin: httpx.Client) -> list[str]:
    """Enterprises registered and updated, awards through their lifecycle, a budget
    (created from the catalog at the first approval). The awards' ids."""
    ids = []
    for score in (70, 80, 90):
        enterprise = register(admin, platform_profile(score=score))
        award = ok(compute(admin, enterprise["id"], fiscal_year=YEAR, amount="20000.00"), 201)
        ids.append(award["id"])
        ok(act(admin, award["id"], "notice", **NOTICE))
        ok(act(admin, award["id"], "approve", reason="reviewed"))
        ok(act(admin, award["id"], "disburse"))
    ok(
        admin.put(
            f"/v1/enterprises/{enterprise['id']}",
            json={**platform_profile(score=95), "uscc": enterprise["uscc"]},
        )
    )
    return ids


def test_the_chain_verifies_after_activity(admin: httpx.Client) -> None:
    result = verify(admin)
    assert result["ok"] is True and result["first_bad_seq"] is None and result["problem"] is None
    events = audit_events(admin)
    assert result["records"] == len(events) == result["head_seq"] == events[-1]["seq"]
    assert result["head_hash"] == events[-1]["hash"]
    checkpoint = ok(admin.get("/v1/audit/checkpoint"))
    assert (checkpoint["seq"], checkpoint["hash"]) == (result["head_seq"], result["head_hash"])

    # Each record links to the one before and its hash is what the client recomputes
    # from what the API shows: the chain covers the content.
    prev = "0" * 64
    actions = set()
    for seq, event in enumerate(events, start=1):
        assert event["seq"] == seq and event["prev_hash"] == prev
        recomputed = record_hash(
            prev,
            event["seq"],
            datetime.fromisoformat(event["occurred_at"]),
            event["actor"],
            event["action"],
            event["object_type"],
            event["object_id"],
            event["payload"],
        )
        assert recomputed == event["hash"], event
        prev = event["hash"]
        actions.add(event["action"])
    assert {
        "key.issued",
        "catalog.loaded",
        "enterprise.registered",
        "profile.version_added",
        "award.computed",
        "award.public_notice",
        "award.approved",
        "award.disbursed",
        "budget.created",
    } <= actions
    ok_with_checkpoint = verify(
        admin, checkpoint_seq=checkpoint["seq"], checkpoint_hash=checkpoint["hash"]
    )
    assert ok_with_checkpoint["ok"] is True


def _refused(connection: Connection, statement: str) -> str:
    transaction = connection.begin()
    try:
        with pytest.raises(DBAPIError) as caught:
            connection.execute(text(statement))
    finally:
        transaction.rollback()
    return str(caught.value)


def test_the_database_refuses_to_change_the_log(server: LedgerServer, admin: httpx.Client) -> None:
    head = verify(admin)["head_seq"]
    statements = [
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 2",
        "UPDATE audit_log SET payload = payload WHERE seq > 0",
        "DELETE FROM audit_log WHERE seq = 3",
        f"DELETE FROM audit_log WHERE seq = {head}",
    ]
    if server.backend == "postgresql":
        statements.append("TRUNCATE audit_log")
    with server.engine.connect() as connection:
        for statement in statements:
            assert "append-only" in _refused(connection, statement), statement
    result = verify(admin)
    assert result["ok"] is True and result["head_seq"] == head


@contextmanager
def _tampering(server: LedgerServer) -> Iterator[Connection]:
    """A committed transaction with the append-only triggers off, as an attacker with
    write access to the database would do it; the triggers are back on exit."""
    with server.engine.connect() as connection, connection.begin():
        if server.backend == "postgresql":
            connection.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
            yield connection
            connection.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))
            return
        triggers = connection.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
            )
        ).all()
        assert len(triggers) == 2, triggers
        for name, _sql in triggers:
            connection.execute(text(f'DROP TRIGGER "{name}"'))
        yield connection
        for _name, sql in triggers:
            connection.execute(text(sql))


def _payload(server: LedgerServer, seq: int) -> dict[str, Any]:
    with server.session() as session:
        row = session.get(AuditLog, seq)
        assert row is not None
        return dict(row.payload)


def _set_payload(connection: Connection, seq: int, payload: dict[str, Any]) -> None:
    connection.execute(update(AuditLog).where(AuditLog.seq == seq).values(payload=payload))


def test_an_edited_record_is_named(
    server: LedgerServer, admin: httpx.Client, activity: list[str]
) -> None:
    [computed] = audit_events(admin, action="award.computed", object_id=activity[0])
    seq = computed["seq"]
    original = _payload(server, seq)
    assert original["amount"] == "20000.00"
    head = verify(admin)["head_seq"]
    assert seq < head

    with _tampering(server) as connection:
        _set_payload(connection, seq, {**original, "amount": "90000.00"})
    assert _payload(server, seq)["amount"] == "90000.00"  # really changed and committed

    result = verify(admin)
    assert result["ok"] is False
    assert result["first_bad_seq"] == seq
    assert "altered" in result["problem"]

    # The triggers are back: the row cannot be put back without switching them off.
    with server.engine.connect() as connection:
        assert "append-only" in _refused(connection, f"DELETE FROM audit_log WHERE seq = {seq}")
    with _tampering(server) as connection:
        _set_payload(connection, seq, original)
    assert verify(admin)["ok"] is True


def _rows_after(server: LedgerServer, seq: int) -> list[dict[str, Any]]:
    with server.session() as session:
        rows = session.scalars(
            select(AuditLog).where(AuditLog.seq > seq).order_by(AuditLog.seq)
        ).all()
        return [{c.key: getattr(r, c.key) for c in AuditLog.__mapper__.column_attrs} for r in rows]


def _cut_after(connection: Connection, seq: int) -> None:
    connection.execute(delete(AuditLog).where(AuditLog.seq > seq))


def test_a_cut_tail_is_caught_against_a_kept_checkpoint(
    server: LedgerServer, admin: httpx.Client
) -> None:
    checkpoint = ok(admin.get("/v1/audit/checkpoint"))
    kept = {"checkpoint_seq": checkpoint["seq"], "checkpoint_hash": checkpoint["hash"]}
    cut, keep_upto = 3, checkpoint["seq"] - 3
    removed = _rows_after(server, keep_upto)
    assert len(removed) == cut

    with _tampering(server) as connection:
        _cut_after(connection, keep_upto)

    # The shortened chain is consistent in itself: only the kept checkpoint shows the cut.
    alone = verify(admin)
    assert alone["ok"] is True and alone["head_seq"] == keep_upto
    result = verify(admin, **kept)
    assert result["ok"] is False
    assert result["first_bad_seq"] == keep_upto + 1
    assert "removed from the tail" in result["problem"]

    # Re-growing the log over the cut (new activity reuses the seqs) does not hide it:
    # the record at the checkpoint has another hash now.
    for _ in range(2):
        register(admin, platform_profile())  # two records each
    regrown = verify(admin, **kept)
    assert regrown["head_seq"] >= checkpoint["seq"]
    assert regrown["ok"] is False and regrown["first_bad_seq"] == checkpoint["seq"]
    assert "rewritten" in regrown["problem"]

    # Undo: drop the forged tail, put the original records back.
    with _tampering(server) as connection:
        _cut_after(connection, keep_upto)
        connection.execute(insert(AuditLog), removed)
    assert verify(admin, **kept)["ok"] is True
