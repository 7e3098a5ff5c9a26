"""Log lines for people (text, in a terminal) or for a log collector (one JSON object a line).

``LOG_FORMAT`` picks the form and ``LOG_LEVEL`` the level; ``incentives serve`` hands
``logging_config`` to uvicorn, which applies it in every worker process. Whatever is
logged while a request is served carries its request id (``REQUEST_ID``), so a
traceback can be joined to the request's own line and to the response the client got
(its ``X-Request-ID`` header).

Only the fields named in a call are written: never a request's headers or body, so no
API key (the key's public prefix at most), no password and no enterprise profile.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import orjson

LogFormat = Literal["text", "json"]

#: The id of the request being served in this context (None outside a request).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

#: The attribute of a log record that holds ``log_event``'s fields.
FIELDS = "fields"


def log_event(
    logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any
) -> None:
    """One line for one event, its fields as JSON members (or ``key=value`` in text).

    For the job worker as for the request middleware: ``log_event(log, "job.step",
    job_id=…, step="chunk", duration_ms=…)``. Values are numbers, strings, booleans or
    None; anything else is written as its ``str``.
    """
    if logger.isEnabledFor(level):
        logger.log(level, event, extra={FIELDS: fields})


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the context it was logged in, so a
    handler that formats later, or on another thread, still writes the right one."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    found: dict[str, Any] = {}
    request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
    if request_id is not None:
        found["request_id"] = request_id
    found.update(getattr(record, FIELDS, None) or {})
    return found


class JsonFormatter(logging.Formatter):
    """``{"time": …, "level": …, "logger": …, "message": …, <fields>}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """``2026-01-05 10:00:00,000 INFO incentives.request: POST /v1/eligibility 200 key=value …``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = _fields(record)
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # a traceback stays below the fields
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} {pairs}{newline}{rest}"


def logging_config(level: str, form: LogFormat) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for the service and uvicorn: one stream (stderr),
    one format. uvicorn's access log is not used: the request middleware writes a
    richer line for each request (app/observability/requests.py)."""
    formatter = JsonFormatter if form == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"service": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "filters": {"request_id": {"()": f"{__name__}.RequestIdFilter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "service",
                "filters": ["request_id"],
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            # uvicorn's loggers come with handlers of their own: through the root's instead.
            name: {"handlers": [], "propagate": True, "level": level.upper()}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        }
        | {
            # Alembic says which dialect it found each time readiness reads the revision.
            "alembic": {"level": "WARNING"},
        },
    }


def configure_logging(level: str, form: LogFormat) -> None:
    """Apply ``logging_config`` in this process (a command that is not ``serve``)."""
    import logging.config

    logging.config.dictConfig(logging_config(level, form))
