"""Checkpoints kept outside the system, with ``incentives audit checkpoint | verify``.

The hash chain by itself shows an edited record, but a log cut at its end, or
rewritten from some record on with every hash recomputed, is still a valid chain:
only a checkpoint kept elsewhere shows it. These tests keep checkpoints in a file the
way the README's routine does, then tamper as someone with the database's owner
rights would (triggers off), on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from app import cli
from app.config import get_settings
from app.db.models import AuditLog
from app.db.session import make_engine, make_sessionmaker
from app.main import create_app
from app.services.audit import record_hash
from tests.api.conftest import CATALOG_DIR, issue_token, make_settings

Tampering = Callable[[Session], AbstractContextManager[None]]


def incentives(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    get_settings.cache_clear()
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def database(
    fresh_db_url: URL, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[URL]:
    """A migrated database with some audited activity (keys issued)."""
    monkeypatch.setenv("DATABASE_URL", fresh_db_url.render_as_string(hide_password=False))
    monkeypatch.setenv("CATALOG_DIR", str(CATALOG_DIR))
    assert incentives(capsys, "migrate")[0] == 0
    _activity(capsys)
    yield fresh_db_url
    get_settings.cache_clear()


def _activity(capsys: pytest.CaptureFixture[str]) -> None:
    for label in ("audit bureau", "finance bureau"):
        assert incentives(capsys, "keys", "create", "--role", "auditor", "--label", label)[0] == 0


def _checkpoint(capsys: pytest.CaptureFixture[str], kept: Path) -> dict[str, Any]:
    code, out, err = incentives(capsys, "audit", "checkpoint", "--append", kept)
    assert code == 0, err
    taken: dict[str, Any] = json.loads(out)
    assert kept.read_text(encoding="utf-8").splitlines()[-1] == out.strip()
    return taken


def _tampered(url: URL, tampering: Tampering, change: Callable[[Session], None]) -> None:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine).begin() as session, tampering(session):
            change(session)
    finally:
        engine.dispose()


def test_a_cut_tail_is_caught_against_the_kept_checkpoints(
    database: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    allow_audit_tampering: Tampering,
) -> None:
    kept = tmp_path / "checkpoints.jsonl"
    first = _checkpoint(capsys, kept)
    _activity(capsys)
    second = _checkpoint(capsys, kept)
    assert second["seq"] > first["seq"] > 0
    code, out, _ = incentives(capsys, "audit", "verify", "--against", kept)
    assert code == 0 and f"head {second['seq']}" in out

    def cut(session: Session) -> None:
        session.execute(delete(AuditLog).where(AuditLog.seq > first["seq"]))

    _tampered(database, allow_audit_tampering, cut)

    # The chain alone still verifies: what is left is a valid chain.
    assert incentives(capsys, "audit", "verify")[0] == 0
    code, _, err = incentives(capsys, "audit", "verify", "--against", kept)
    assert code == 1
    assert f"{kept} line 2" in err and "removed from the tail" in err
    # The routine refuses to add a checkpoint of the damaged log on top of the evidence.
    before = kept.read_text(encoding="utf-8")
    code, _, err = incentives(capsys, "audit", "checkpoint", "--append", kept)
    assert code == 1 and "removed from the tail" in err
    assert kept.read_text(encoding="utf-8") == before


def test_a_rewritten_log_is_caught_against_the_kept_checkpoints(
    database: URL,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    allow_audit_tampering: Tampering,
) -> None:
    kept = tmp_path / "checkpoints.jsonl"
    taken = _checkpoint(capsys, kept)

    def rewrite(session: Session) -> None:
        """Another actor from record 2 on, and every hash after it recomputed."""
        rows = session.scalars(select(AuditLog).order_by(AuditLog.seq)).all()
        prev = rows[0].hash
        for row in rows[1:]:
            row.actor, row.prev_hash = "someone else", prev
            row.hash = record_hash(
                prev,
                row.seq,
                row.occurred_at,
                row.actor,
                row.action,
                row.object_type,
                row.object_id,
                row.payload,
            )
            prev = row.hash
            session.flush()

    _tampered(database, allow_audit_tampering, rewrite)

    assert incentives(capsys, "audit", "verify")[0] == 0
    code, _, err = incentives(capsys, "audit", "verify", "--against", kept)
    assert code == 1
    assert f"{kept} line 1" in err and "rewritten" in err and taken["seq"] > 1


def test_a_checkpoint_from_the_api_is_kept_the_same_way(
    database: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "from-the-api.jsonl"
    with TestClient(create_app(make_settings(database))) as client:
        auditor = issue_token(client.app, "auditor")  # type: ignore[arg-type]
        answer = client.get("/v1/audit/checkpoint", headers={"Authorization": f"Bearer {auditor}"})
    assert answer.status_code == 200, answer.text
    kept.write_text(answer.text + "\n", encoding="utf-8")
    code, out, err = incentives(capsys, "audit", "verify", "--against", kept)
    assert code == 0, err
    assert "agrees with every checkpoint" in out


BAD_LINES = {
    "not json": "not JSON",
    '{"seq": "twelve", "hash": "' + "0" * 64 + '"}': "`seq`",
    '{"seq": 1, "hash": "abc"}': "`hash`",
}


def test_an_unreadable_checkpoint_file_names_the_line(
    database: URL, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kept = tmp_path / "checkpoints.jsonl"
    good = json.dumps(_checkpoint(capsys, kept))
    for line, says in BAD_LINES.items():
        kept.write_text(f"{good}\n{line}\n", encoding="utf-8")
        code, _, err = incentives(capsys, "audit", "verify", "--against", kept)
        assert code == 2 and f"{kept} line 2" in err and says in err, err
    code, _, err = incentives(capsys, "audit", "verify", "--against", tmp_path / "nowhere")
    assert code == 2 and "no such file" in err
