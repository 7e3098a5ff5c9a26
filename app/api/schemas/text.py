"""The API's name for ``app.profile.text``, where these values live (see app/profile)."""

from app.profile.text import *  # noqa: F403
