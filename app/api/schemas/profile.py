"""The API's name for the enterprise profile, which lives in ``app.profile`` (the
services use it too); the classes are the same, so OpenAPI's schema names are too."""

from app.profile.model import *  # noqa: F403
