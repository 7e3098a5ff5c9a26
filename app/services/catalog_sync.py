"""Record the loaded catalog in the database.

Each policy version is stored once, by content hash, so an award keeps pointing at
exactly the rules it was computed under even after the YAML files change.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.catalog.loader import Catalog, canonical_json, policy_version_document, sha256
from app.catalog.schema import PolicyFile, Version
from app.db.models import CatalogLoad, PolicyVersion
from app.db.repositories import policies as repo


def version_hash(policy: PolicyFile, version: Version) -> tuple[str, dict[str, object]]:
    document = policy_version_document(policy, version)
    return sha256(canonical_json(document)), document


def store_policy_version(session: Session, policy: PolicyFile, version: Version) -> PolicyVersion:
    content_hash, document = version_hash(policy, version)
    return repo.upsert_policy_version(
        session,
        policy_id=policy.id,
        version=version.version,
        content_hash=content_hash,
        document=document,
    )


def record_catalog(session: Session, catalog: Catalog, actor: str) -> int:
    """Store every policy version not stored yet; log the load when the catalog is new.

    Returns how many policy versions were new.
    """
    from app.services import audit

    # Locked first: workers starting together record one load, not one each.
    audit.serialize(session)
    latest = repo.latest_catalog_load(session)
    if latest is not None and latest.catalog_hash == catalog.hash:
        return 0
    new = 0
    for policy in catalog:
        for version in policy.versions:
            content_hash, document = version_hash(policy, version)
            if (
                repo.find_policy_version(
                    session, policy_id=policy.id, version=version.version, content_hash=content_hash
                )
                is None
            ):
                new += 1
            repo.upsert_policy_version(
                session,
                policy_id=policy.id,
                version=version.version,
                content_hash=content_hash,
                document=document,
            )
    load = repo.add_catalog_load(
        session,
        CatalogLoad(catalog_hash=catalog.hash, policy_count=len(catalog.policies), loaded_by=actor),
    )
    _audit(session, actor, load, new)
    return new


def _audit(session: Session, actor: str, load: CatalogLoad, new: int) -> None:
    from app.services import audit

    audit.record(
        session,
        actor=actor,
        action="catalog.loaded",
        object_type="catalog",
        object_id=load.catalog_hash[:64],
        payload={
            "catalog_hash": load.catalog_hash,
            "policy_count": load.policy_count,
            "new_policy_versions": new,
        },
    )
