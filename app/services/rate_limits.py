"""The open calculator's rate limit: calls per client address and minute, all workers together.

Each call is counted in the database (``app.db.repositories.rate_limits``): one atomic
upsert per call, so the limit is the same whether one worker serves the address or
four do. A window opens at an address's first call and lasts a minute; calls past the
limit inside it are refused with the seconds until it ends. When a call opens a new
window, the counters of windows that have ended are deleted, so the table holds about
one row per address seen in the last minute and the purge's cost is spread over the
calls (each row is deleted once).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.db.repositories import rate_limits as counters
from app.services.errors import TooManyRequests

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class Verdict:
    """One call's count in its window; ``check`` raises the 429 if it is past the limit."""

    hits: int
    limit: int
    retry_after: int

    @property
    def admitted(self) -> bool:
        return self.hits <= self.limit

    def check(self) -> None:
        if not self.admitted:
            raise TooManyRequests(
                f"at most {self.limit} calculations a minute from one address; "
                "use an API key and the enterprise endpoints for more",
                headers={"Retry-After": str(self.retry_after)},
            )


def count_call(session: Session, client: str, limit: int, now: float) -> Verdict:
    """Count a call from ``client`` at ``now`` (Unix seconds). Never commits; the caller
    commits before it acts on the verdict, so refused calls are counted too."""
    now_ms = int(now * 1000)
    window_ms = WINDOW_SECONDS * 1000
    hits, window_start = counters.count_call(session, client, now_ms, window_ms)
    if hits == 1:
        counters.purge_rate_limit_counters(session, now_ms - window_ms)
    ends_in = (window_start + window_ms - now_ms) / 1000
    return Verdict(hits, limit, max(1, math.ceil(ends_in)))
