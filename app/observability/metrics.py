"""The service's Prometheus metrics, and the text ``GET /metrics`` answers with.

Two kinds of figures:

- counted by the processes as they work (module-level metrics below): requests and
  their latency, the last audit verification. With several uvicorn workers each
  process writes them to the shared directory (``app.observability.metrics_dir``) and
  a scrape sums every worker's;
- read from the database when scraped (``DATABASE_FIGURES``): each budget's amount,
  commitments, disbursements and what remains, and the audit chain's length. They are
  the same whichever worker answers, and cost a few indexed queries per scrape.

The job queue's figures are read from the database too (``job_queue_figures``): jobs
waiting, running and failed, and the shards done with their durations, as every worker
on every host recorded them, so workers need no port of their own.

Money is a float here (Prometheus has no other number): exact to the fen for any budget
below 10^13 yuan; the API's figures remain the reference.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric, SummaryMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import AuditLog, Budget
from app.jobs.stats import queue_stats, shards_done
from app.observability.metrics_dir import VARIABLE as MULTIPROCESS_DIR

CONTENT_TYPE = CONTENT_TYPE_LATEST
# The `_created` series (when each series was first seen): the single-process output
# had them and the multiprocess one not; a scrape looks the same either way without.
disable_created_metrics()  # type: ignore[no-untyped-call]

# ------------------------------------------------------------------ requests

#: The route label of a request that matched no route (a 404 from the router): the
#: raw path would give every scanner's guess a series of its own.
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_DURATION = Histogram(
    "incentives_http_request_duration_seconds",
    "Time from a request's arrival to its last response byte, by method, route template "
    "and status; its _count is the number of requests.",
    ("method", "route", "status"),
    # From the open calculator's milliseconds to a large import's tens of seconds.
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)

_request_series: dict[tuple[str, str, int], Any] = {}


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    """Count one request. The labelled series are kept, so a request costs a dict look-up
    and one observation rather than the library's locked ``labels`` call."""
    if method not in METHODS:
        method = "other"  # any token is a method to HTTP: each would be a series
    key = (method, route, status)
    series = _request_series.get(key)
    if series is None:
        series = _request_series[key] = REQUEST_DURATION.labels(method, route, str(status))
    series.observe(seconds)


# ------------------------------------------------------------------ the audit chain

# Kept as the process that verified saw it ("mostrecent": with several workers the
# latest verification of any of them), by outcome: no series until a verification ran,
# and an alert can ask both "how long since the chain was last found intact" and "was
# it found broken since". `incentives audit verify` runs in a process of its own: the
# API's scrape does not see it.
AUDIT_VERIFIED_AT = Gauge(
    "incentives_audit_verification_timestamp_seconds",
    "When a verification last found the audit chain intact, or broken (Unix time).",
    ("outcome",),
    multiprocess_mode="mostrecent",
)
AUDIT_VERIFIED_RECORDS = Gauge(
    "incentives_audit_verification_records",
    "How many records that verification checked.",
    ("outcome",),
    multiprocess_mode="mostrecent",
)


def record_audit_verification(ok: bool, records: int) -> None:
    outcome = "intact" if ok else "broken"
    AUDIT_VERIFIED_AT.labels(outcome).set(time.time())
    AUDIT_VERIFIED_RECORDS.labels(outcome).set(records)


# ------------------------------------------------------------------ read when scraped

FigureReader = Callable[[Session], Iterable[Metric]]

BUDGET_LABELS = ("budget", "policy", "fiscal_year", "payer")


def budget_figures(session: Session) -> Iterator[Metric]:
    """Each budget's amount, committed, disbursed and remaining yuan."""
    families = {
        name: GaugeMetricFamily(f"incentives_budget_{name}_yuan", text, labels=BUDGET_LABELS)
        for name, text in (
            ("amount", "The budget's amount for its policy, fiscal year and payer."),
            ("committed", "Approved awards not yet disbursed."),
            ("disbursed", "Awards paid out."),
            ("remaining", "What can still be committed: amount - committed - disbursed."),
        )
    }
    rows = session.execute(
        select(
            Budget.id,
            Budget.policy_id,
            Budget.fiscal_year,
            Budget.payer_jurisdiction,
            Budget.amount,
            Budget.committed,
            Budget.disbursed,
        )
    )
    for budget_id, policy, year, payer, amount, committed, disbursed in rows:
        labels = [budget_id, policy, str(year), payer]
        families["amount"].add_metric(labels, float(amount))
        families["committed"].add_metric(labels, float(committed))
        families["disbursed"].add_metric(labels, float(disbursed))
        families["remaining"].add_metric(labels, float(amount - committed - disbursed))
    yield from families.values()


def audit_chain_figures(session: Session) -> Iterator[Metric]:
    """The chain's length: its head's sequence number (they run 1, 2, 3, … unbroken)."""
    head = session.scalar(select(func.max(AuditLog.seq)))
    yield GaugeMetricFamily(
        "incentives_audit_chain_records", "Records in the audit chain.", value=head or 0
    )


def job_queue_figures(session: Session) -> Iterator[Metric]:
    """The job queue as every worker left it (app/jobs/stats.py): jobs waiting and
    running per queue, failed jobs per task, and the shards of runs done so far with the
    seconds they took, as a summary that only grows (so ``rate()`` applies)."""
    stats = queue_stats(session)
    for name, text, counts, label in (
        ("waiting", "Jobs queued and not yet taken by a worker.", stats.waiting, "queue"),
        ("running", "Jobs a worker is executing.", stats.running, "queue"),
        ("failed", "Jobs that failed and are kept for inspection.", stats.failed, "task"),
    ):
        family = GaugeMetricFamily(f"incentives_jobs_{name}", text, labels=[label])
        for key, count in sorted(counts.items()):
            family.add_metric([key], count)
        yield family
    done, seconds = shards_done(session)
    yield SummaryMetricFamily(
        "incentives_run_shard_duration_seconds",
        "Shards of matching runs and simulations done, and the seconds from taken to done.",
        count_value=done,
        sum_value=seconds,
    )


#: What a scrape reads from the database, in this order.
DATABASE_FIGURES: list[FigureReader] = [budget_figures, audit_chain_figures, job_queue_figures]


class _DatabaseFigures:
    """A collector over one session, for one scrape."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def collect(self) -> Iterator[Metric]:
        for reader in DATABASE_FIGURES:
            yield from reader(self.session)


def _process_registry() -> CollectorRegistry:
    """This process's metrics, or every worker's when they share a directory."""
    if not os.environ.get(MULTIPROCESS_DIR):
        return REGISTRY
    registry = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition(session: Session) -> bytes:
    """The Prometheus text of every figure above."""
    read = CollectorRegistry(auto_describe=False)
    read.register(_DatabaseFigures(session))
    return generate_latest(_process_registry()) + generate_latest(read)
