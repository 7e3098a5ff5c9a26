"""A run's results are paged through an index once statistics are fresh (PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from app.db import repositories as repo
from app.db.models import MatchingResult, MatchingRun
from app.db.projection import analyze
from app.db.repositories import enterprises as enterprises_repo
from app.db.repositories.matching import run_number_of
from app.db.repositories.result_rows import ResultRows


# The planner is PostgreSQL's: SQLite has no statistics to keep fresh.
@pytest.mark.parametrize(
    "db_backend", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_paging_a_run_uses_an_index(db_session: Session, db_backend: str) -> None:
    now = datetime.now(UTC)
    eid = str(uuid.uuid4())
    enterprises_repo.insert_enterprises(
        db_session,
        [{"id": eid, "uscc": None, "name": "x", "kind": None, "province": None, "city": None,
          "district": None, "park": None, "current_version": 1, "created_at": now,
          "updated_at": now}],
    )  # fmt: skip
    runs = []
    for _ in range(4):
        run = repo.add_matching_run(
            db_session,
            MatchingRun(fiscal_year=2024, status="done", parameters={}, started_by="test"),
        )
        runs.append(run.id)
        count = 5000
        rows = ResultRows(
            [eid],
            [f"p{i}" for i in range(30)],
            enterprise=np.zeros(count, dtype=np.intp),
            policy=np.arange(count, dtype=np.intp) % 30,
            status=np.ones(count, dtype=np.int8),  # eligible
            fen=np.full(count, 100, dtype=np.int64),
            code=np.zeros(count, dtype=np.int64),
            coded=np.zeros(count, dtype=bool),
        )
        repo.add_matching_result_rows(db_session, run, [rows])
    analyze(db_session, ["matching_results"])
    stmt = (
        MatchingResult.__table__.select()
        .where(MatchingResult.run_number == run_number_of(runs[1]), MatchingResult.id > 0)
        .order_by(MatchingResult.id)
        .limit(200)
    )
    sql = str(stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    plan = "\n".join(r[0] for r in db_session.execute(text("EXPLAIN " + sql)))
    assert "Index" in plan and "Seq Scan" not in plan, plan
    assert len(repo.list_matching_results(db_session, runs[1], limit=200)) == 200
