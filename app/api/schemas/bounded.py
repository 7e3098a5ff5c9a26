"""The API's name for ``app.profile.bounded``, where these values live (see app/profile)."""

from app.profile.bounded import *  # noqa: F403
