"""The open calculator: what a profile is entitled to, with nothing stored."""

from __future__ import annotations

from fastapi import APIRouter, Response

from app.api.deps import CatalogDep
from app.api.errors import responses
from app.api.rate_limit import open_post
from app.api.schemas.eligibility import EligibilityRequest, EligibilityResponse
from app.services.answer_bytes import eligibility_bytes
from app.services.vocabulary import check_words

router = APIRouter(tags=["eligibility"])


@open_post(
    router, "/eligibility", response_model=EligibilityResponse, responses=responses(422, 429)
)
async def post_eligibility(body: EligibilityRequest, catalog: CatalogDep) -> Response:
    """Every policy's verdict, capped amount, reasons and missing facts for a profile; nothing is stored."""
    # A coroutine: the answer is computed from the request and the loaded catalog
    # alone (no I/O, the rate limit is counted before), so it runs in the event loop
    # rather than paying a hop to the thread pool and back.
    check_words(body.profile, catalog, "/profile")
    # The answer's bytes, assembled from fragments serialised once (the same bytes as
    # the reference shaping, ``check_eligibility``, serialised: tests/unit/test_answer_bytes.py).
    answer = eligibility_bytes(catalog, body.profile.facts(), body.fiscal_year, body.policy_ids)
    return Response(answer, media_type="application/json")
