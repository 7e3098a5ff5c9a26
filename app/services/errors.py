"""The one error hierarchy of the use cases; ``app/api/errors.py`` maps it to HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ServiceError(Exception):
    status = 400
    title = "Bad request"
    slug = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers
        self._extra = extra

    def extra(self) -> dict[str, Any]:
        return {"errors": self.errors, **self._extra}


class NotFound(ServiceError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(ServiceError):
    status, title, slug = 409, "Conflict", "conflict"


class Invalid(ServiceError):
    """The request is well-formed but cannot be carried out as asked (422)."""

    status, title, slug = 422, "Unprocessable request", "unprocessable"


class NotEligible(ServiceError):
    status, title, slug = 422, "Not eligible", "not-eligible"


class Unauthorized(ServiceError):
    status, title, slug = 401, "Unauthorized", "unauthorized"


class Forbidden(ServiceError):
    status, title, slug = 403, "Forbidden", "forbidden"


class TooManyRequests(ServiceError):
    status, title, slug = 429, "Too many requests", "rate-limited"
