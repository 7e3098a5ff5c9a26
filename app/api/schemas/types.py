"""The API's name for ``app.profile.types``, where these values live (see app/profile)."""

from app.profile.types import *  # noqa: F403
