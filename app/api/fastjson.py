"""A direct JSON response for the calculator's large answers.

The eligibility answer is built by the service in exactly the documented shape (the
API tests and the schema fuzz test hold it to ``EligibilityResponse``); validating it
again through the response model costs more than computing it, so these routes
serialise it directly. Decimals here are all money, written with two places.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import Response


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def json_response(payload: Any, status_code: int = 200) -> Response:
    body = json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), status_code=status_code, media_type="application/json")
