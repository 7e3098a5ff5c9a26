"""Batch matching runs (a later feature; only what it will need to start with)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db.models import MatchingRun
from app.db.repositories._base import add_and_flush


def add_matching_run(session: Session, run: MatchingRun) -> MatchingRun:
    return add_and_flush(session, run)


def get_matching_run(session: Session, run_id: str) -> MatchingRun | None:
    return session.get(MatchingRun, run_id)
