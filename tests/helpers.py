"""Small builders shared by the API and database tests."""

from __future__ import annotations

import random

from app.api.schemas.types import USCC_ALPHABET, uscc_check_character


def random_uscc(rng: random.Random | None = None) -> str:
    """A valid Unified Social Credit Code (check character computed), unique enough for tests."""
    rng = rng or random.Random()
    body = "91" + "320115" + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc_check_character(body)
