"""The enterprise profile: its model and the value types it is made of.

A profile is what the service knows of an enterprise: the API receives it, the
services store, import, check and evaluate it. It lives here, beside ``app/catalog``,
rather than in ``app/api/schemas`` (the services imported it from there: the API's
layer below the API) or in ``app/domain``, because:

- its field types are bounded by the database's columns (``app.db.bounds``: a name,
  a place, a USCC a column can hold), and the domain imports nothing from the rest
  of ``app``;
- it is a pydantic model (parsing and refusing bad input, its JSON schema in
  OpenAPI), and the domain is plain stdlib and Decimal, evaluated on the plain facts
  ``EnterpriseProfile.facts()`` gives it.

``types`` (money, dates, scores, words, USCC), ``bounded`` (strings and numbers bounded
by their columns) and ``text`` (text a person writes) are the values every request
model is built from; the services' own inputs use them too. The API's schema modules
re-export all of this under their old names, so OpenAPI's schema names are unchanged.
Nothing here does I/O.
"""

from app.profile.model import EnterpriseProfile, ProfileFacts

__all__ = ["EnterpriseProfile", "ProfileFacts"]
