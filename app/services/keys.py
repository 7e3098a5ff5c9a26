"""API keys: issued once, stored hashed, revoked for good.

A key reads ``pik_<prefix>_<secret>``: the prefix finds the row, the secret is checked
against its SHA-256 (the secret has 256 bits of entropy, so a slow password hash
would add nothing but latency on every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.loader import Catalog
from app.db import bounds
from app.db import repositories as repo
from app.db.models import ApiKey
from app.db.repositories.plain_pg import LiveKey
from app.domain.human_text import text_problem
from app.services import audit
from app.services.actors import Actor
from app.services.errors import Invalid, NotFound

TOKEN_PREFIX = "pik_"
ROLES = ("admin", "portal", "enterprise", "auditor")
PREFIX_BYTES = 6  # the prefix is their hex: 12 characters
# The holder of a key appears in the ledger as "<role>:<label>#<prefix>" (created_by,
# actor, started_by): the label is bounded so that the whole name fits those columns.
LABEL_MAX = bounds.ACTOR - max(map(len, ROLES)) - len(":#") - 2 * PREFIX_BYTES


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def issue_key(
    session: Session,
    catalog: Catalog,
    *,
    role: str,
    label: str,
    actor: Actor,
    enterprise_id: str | None = None,
    jurisdiction: str | None = None,
) -> IssuedKey:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}")
    if not label.strip() or len(label) > LABEL_MAX or "\x00" in label:
        raise Invalid(
            f"a key's label (who holds it, as the ledger shows it) is 1 to {LABEL_MAX} "
            "characters: shorten it"
        )
    if role == "enterprise":
        if not enterprise_id or repo.get_enterprise(session, enterprise_id) is None:
            raise Invalid(
                "an enterprise key needs the id of a registered enterprise (--enterprise)"
            )
    elif enterprise_id:
        raise Invalid("only an enterprise key is bound to an enterprise")
    if role == "portal":
        place = catalog.places.get(jurisdiction)
        if place is None or place.level == "province":
            places = catalog.words["city"] | catalog.words["district"] | catalog.words["park"]
            raise Invalid(
                "a portal key needs the city, district or park it acts for (--jurisdiction), "
                f"one of: {', '.join(sorted(places))}"
            )
    elif jurisdiction:
        raise Invalid("only a portal key has a jurisdiction")
    # The label is shown in `keys list` on a terminal and in the API's `created_by`.
    problem = text_problem(label) if label else None
    if problem is not None:
        raise Invalid(f"the label {problem}")
    prefix = secrets.token_hex(PREFIX_BYTES)
    secret = secrets.token_urlsafe(32)
    key = repo.add_api_key(
        session,
        ApiKey(
            prefix=prefix,
            secret_hash=_digest(secret),
            role=role,
            enterprise_id=enterprise_id,
            jurisdiction=jurisdiction,
            label=label,
        ),
    )
    audit.record(
        session,
        actor=actor.label,
        action="key.issued",
        object_type="api_key",
        object_id=key.id,
        payload={
            "prefix": prefix,
            "role": role,
            "enterprise_id": enterprise_id,
            "jurisdiction": jurisdiction,
            "label": label,
        },
    )
    return IssuedKey(key, f"{TOKEN_PREFIX}{prefix}_{secret}")


def authenticate(session: Session, token: str) -> Actor | None:
    """Who holds the live key of a bearer token, or ``None``. The key is read on every
    request, so a revocation takes effect at the next one."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    prefix, _, secret = token[len(TOKEN_PREFIX) :].partition("_")
    # The prefix is looked up in a column: one it cannot hold (too long, or with a NUL,
    # which no text column holds) matches no key.
    if not prefix or not secret or len(prefix) > bounds.KEY_PREFIX or "\x00" in prefix:
        return None
    key = repo.live_key_by_prefix(session, prefix)
    if key is None or not hmac.compare_digest(key.secret_hash, _digest(secret)):
        return None
    return actor_for(key)


def actor_for(key: ApiKey | LiveKey) -> Actor:
    """The actor a key acts as: from the API's bearer token or the console's session."""
    return Actor(
        name=f"{key.label}#{key.prefix}",
        role=key.role,  # type: ignore[arg-type]
        enterprise_id=key.enterprise_id,
        jurisdiction=key.jurisdiction,
        api_key_id=key.id,
    )


def revoke_key(session: Session, key_id_or_prefix: str, actor: Actor) -> ApiKey:
    key = repo.get_api_key(session, key_id_or_prefix) or repo.get_api_key_by_prefix(
        session, key_id_or_prefix
    )
    if key is None:
        raise NotFound(f"no API key {key_id_or_prefix}")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.flush()
        audit.record(
            session,
            actor=actor.label,
            action="key.revoked",
            object_type="api_key",
            object_id=key.id,
            payload={"prefix": key.prefix, "role": key.role},
        )
    return key


def list_keys(session: Session) -> Sequence[ApiKey]:
    return session.scalars(select(ApiKey).order_by(ApiKey.created_at)).all()
