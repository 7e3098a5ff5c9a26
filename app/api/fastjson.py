"""A direct JSON response for the calculator's large answers.

The eligibility answer is built by the service in exactly the documented shape (the
API tests and the schema fuzz test hold it to ``EligibilityResponse``); validating it
again through the response model costs more than computing it, so these routes
serialise it directly, with orjson (several times faster than ``json.dumps`` on these
answers). The bytes mean what the standard encoder's meant: compact, UTF-8 with Chinese
unescaped, dates in ISO form, and Decimals, which here are all money, as strings with
two places.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
from fastapi.responses import Response


def _default(value: Any) -> Any:
    # orjson writes dates and datetimes itself (ISO 8601); only Decimals come here.
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(payload: Any) -> bytes:
    # OPT_PASSTHROUGH_DATETIME would route dates through `_default`; orjson's own ISO
    # form is what `isoformat()` gave, so it is left on.
    return orjson.dumps(payload, default=_default)


def json_response(payload: Any, status_code: int = 200) -> Response:
    return Response(dumps(payload), status_code=status_code, media_type="application/json")
