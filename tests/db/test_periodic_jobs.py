"""The periodic jobs the queue schedules (app/jobs/tasks.py), on both databases: the
idempotency purge, and audit checkpoints appended to AUDIT_CHECKPOINT_FILE."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL

from app.catalog.loader import load_catalog
from app.db.models import IdempotencyRecord
from app.db.session import make_engine, make_sessionmaker, migrate
from app.jobs import tasks
from app.jobs.runtime import Runtime
from app.services.actors import SYSTEM
from app.services.audit import record
from app.services.keys import issue_key
from tests.api.conftest import CATALOG_DIR, make_settings


@pytest.fixture
def runtime(fresh_db_url: URL, tmp_path: Path) -> Iterator[Runtime]:
    migrate(fresh_db_url)
    settings = make_settings(fresh_db_url, audit_checkpoint_file=tmp_path / "kept.jsonl")
    engine = make_engine(fresh_db_url)
    yield Runtime(settings, load_catalog(CATALOG_DIR), make_sessionmaker(engine), engine)
    engine.dispose()


def test_the_purge_forgets_only_expired_answers(runtime: Runtime) -> None:
    with runtime.make_session.begin() as session:
        key = issue_key(session, runtime.catalog, role="admin", label="purge", actor=SYSTEM)
        for name, age in (("old", timedelta(days=2)), ("new", timedelta(minutes=1))):
            session.add(
                IdempotencyRecord(
                    api_key_id=key.key.id, key=name, method="POST", path="/v1/x",
                    request_hash="0" * 64, created_at=datetime.now(UTC) - age,
                )
            )  # fmt: skip
    assert tasks.purge_idempotency(runtime) == 1
    with runtime.make_session() as session:
        assert set(session.scalars(select(IdempotencyRecord.key))) == {"new"}


def test_checkpoints_are_appended_while_the_log_agrees(runtime: Runtime) -> None:
    kept = runtime.settings.audit_checkpoint_file
    assert kept is not None
    with runtime.make_session.begin() as session:
        record(session, actor="test", action="test.event", object_type="thing", object_id="1",
               payload={"n": 1})  # fmt: skip
    tasks.audit_checkpoint(runtime)
    with runtime.make_session.begin() as session:
        record(session, actor="test", action="test.event", object_type="thing", object_id="2",
               payload={"n": 2})  # fmt: skip
    tasks.audit_checkpoint(runtime)
    lines = [json.loads(line) for line in kept.read_text(encoding="utf-8").splitlines()]
    assert [line["seq"] for line in lines] == [lines[0]["seq"], lines[0]["seq"] + 1]

    # A file that no longer agrees with the log: the job fails and appends nothing.
    kept.write_text(json.dumps({"seq": lines[0]["seq"], "hash": "0" * 64}) + "\n")
    with pytest.raises(RuntimeError, match="does not verify"):
        tasks.audit_checkpoint(runtime)
    assert len(kept.read_text(encoding="utf-8").splitlines()) == 1


def test_no_file_no_checkpoint(runtime: Runtime) -> None:
    kept = runtime.settings.audit_checkpoint_file
    assert kept is not None
    runtime.settings = runtime.settings.model_copy(update={"audit_checkpoint_file": None})
    tasks.audit_checkpoint(runtime)
    assert not kept.exists()
