"""What the service's database role may do, table by table (PostgreSQL).

The append-only triggers of ``audit_log`` protect it only from a role that cannot
remove them: dropping or disabling a trigger, replacing its function or altering the
table needs ownership, and ``TRUNCATE`` is a privilege of its own. So migrations run
as the role that owns the schema, and the service runs as another role that owns
nothing and is granted here the statements it uses, on ``audit_log`` only ``INSERT``
and ``SELECT``. Stolen service credentials can then add records to the log (which
verification checks) but not change, remove or hide one.

Every table must be listed: a new table fails ``grant_service_role`` until its line
says what the service does with it, so a migration cannot leave the service either
without access or with more than it needs.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, inspect, text

#: table -> the statements the service runs on it (``SELECT … FOR UPDATE`` needs UPDATE).
SERVICE_PRIVILEGES: Mapping[str, tuple[str, ...]] = {
    "audit_log": ("INSERT", "SELECT"),  # append-only: records are added, never changed
    "award_events": ("INSERT", "SELECT"),  # each award's history, append-only
    "awards": ("INSERT", "SELECT", "UPDATE"),  # the lifecycle changes status
    "api_keys": ("INSERT", "SELECT", "UPDATE"),  # revocation
    "budgets": ("INSERT", "SELECT", "UPDATE"),  # commitments and adjustments
    "catalog_loads": ("INSERT", "SELECT"),  # a record per start-up
    "enterprises": ("INSERT", "SELECT", "UPDATE"),  # a changed profile updates the row
    # a reviewer's findings: never changed or removed, a correction is a new record
    "enterprise_findings": ("INSERT", "SELECT"),
    # the projection of each enterprise's current facts: replaced with each new profile
    "enterprise_facts": ("DELETE", "INSERT", "SELECT"),
    "enterprise_fact_years": ("DELETE", "INSERT", "SELECT"),
    "enterprise_fact_year_scores": ("DELETE", "INSERT", "SELECT"),
    "enterprise_recognitions": ("DELETE", "INSERT", "SELECT"),
    # large imports waiting for a worker: status and report updated, the file dropped
    "import_jobs": ("INSERT", "SELECT", "UPDATE"),
    "idempotency_records": ("DELETE", "INSERT", "SELECT", "UPDATE"),  # purged after 24 hours
    "matching_results": ("INSERT", "SELECT"),  # written once per shard of a run
    "matching_run_shards": ("INSERT", "SELECT", "UPDATE"),  # taken, then done with totals
    "matching_run_paths": ("INSERT", "SELECT"),  # what a run's missing-fact codes name
    "matching_runs": ("INSERT", "SELECT", "UPDATE"),  # progress and result
    "policy_versions": ("INSERT", "SELECT"),  # never updated: awards refer to them
    "profile_versions": ("INSERT", "SELECT"),  # every version is kept
    # The job queue (procrastinate): the API enqueues, workers take, finish, retry and
    # prune jobs, and register and beat their hearts. Its functions run as the caller.
    "procrastinate_events": ("DELETE", "INSERT", "SELECT"),
    "procrastinate_jobs": ("DELETE", "INSERT", "SELECT", "UPDATE"),
    "procrastinate_periodic_defers": ("DELETE", "INSERT", "SELECT", "UPDATE"),
    "procrastinate_workers": ("DELETE", "INSERT", "SELECT", "UPDATE"),
    # the open calculator's shared count per address: upserted per call, old windows purged
    "rate_limit_counters": ("DELETE", "INSERT", "SELECT", "UPDATE"),
    # the schema's revision: GET /health/ready holds it to this release's migrations
    "alembic_version": ("SELECT",),
}
#: Tables the service never touches.
OWNER_ONLY: frozenset[str] = frozenset()


class GrantError(Exception):
    """The grant cannot be made as asked; the message says what to do."""


def grant_service_role(connection: Connection, role: str) -> dict[str, tuple[str, ...]]:
    """Give ``role`` exactly ``SERVICE_PRIVILEGES`` on the connection's schema.

    Whatever else it held on these tables is revoked first, so running it again after
    a migration (or after a hand-made grant) leaves exactly what is listed. Returns
    the privileges per table. Runs in the caller's transaction.
    """
    if connection.dialect.name != "postgresql":
        raise GrantError(
            "database roles are PostgreSQL's: an SQLite file is protected by its mode (0600)"
        )
    _check_role(connection, role)
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    tables = set(inspect(connection).get_table_names(schema=schema))
    _check_tables(tables)
    quote = connection.dialect.identifier_preparer.quote
    grantee, where = quote(role), quote(schema)
    statements = [
        f"REVOKE CREATE ON SCHEMA {where} FROM {grantee}",
        f"GRANT USAGE ON SCHEMA {where} TO {grantee}",
    ]
    for table in sorted(tables):
        name = f"{where}.{quote(table)}"
        statements.append(f"REVOKE ALL ON {name} FROM {grantee}")
        if table in SERVICE_PRIVILEGES:
            statements.append(
                f"GRANT {', '.join(SERVICE_PRIVILEGES[table])} ON {name} TO {grantee}"
            )
    # Sequences only hand out ids (matching_results.id) to the tables granted INSERT.
    statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {where} TO {grantee}")
    for statement in statements:
        connection.execute(text(statement))
    return {table: SERVICE_PRIVILEGES[table] for table in sorted(tables - OWNER_ONLY)}


def _check_role(connection: Connection, role: str) -> None:
    found = connection.execute(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    if found is None:
        raise GrantError(
            f"there is no role {role}: create it first, e.g. CREATE ROLE {role} LOGIN "
            "PASSWORD '…' (deploy/postgres-roles.sql does it for docker compose)"
        )
    if found.rolsuper:
        raise GrantError(f"{role} is a superuser: the service must run as an ordinary role")
    owned = connection.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND pg_has_role(:role, tableowner, 'MEMBER') ORDER BY tablename LIMIT 1"
        ),
        {"role": role},
    ).first()
    if owned is not None:
        raise GrantError(
            f"{role} owns {owned.tablename} (or is a member of its owner), so it could drop "
            "audit_log's triggers: the service must run as a role that owns no table. "
            "Migrate as the owner and grant to another role"
        )


def _check_tables(tables: set[str]) -> None:
    unlisted = sorted(tables - SERVICE_PRIVILEGES.keys() - OWNER_ONLY)
    if unlisted:
        raise GrantError(
            f"no privileges are declared for {', '.join(unlisted)}: add each table to "
            "SERVICE_PRIVILEGES in app/db/privileges.py with the statements the service runs"
        )
    missing = sorted(SERVICE_PRIVILEGES.keys() - tables)
    if missing:
        raise GrantError(f"the schema has no {', '.join(missing)}: run `incentives migrate` first")


def service_can_alter_audit_log(connection: Connection) -> bool:
    """Whether the connected role could drop audit_log's triggers (PostgreSQL only):
    it is a superuser, or owns the table (or is a member of its owner)."""
    if connection.dialect.name != "postgresql":
        return False
    found = connection.execute(
        text(
            "SELECT r.rolsuper OR pg_has_role(current_user, t.tableowner, 'MEMBER') "
            "FROM pg_tables t, pg_roles r WHERE t.schemaname = current_schema() "
            "AND t.tablename = 'audit_log' AND r.rolname = current_user"
        )
    ).scalar()
    return bool(found)
