"""The application factory: routers, problem+json handlers, and start-up.

Start-up loads and validates the catalog (a bad file stops the service with the file,
field and fix), opens the database, records the catalog's policy versions there so
every award can be replayed from the database alone, and (SQLite) starts the thread
that executes jobs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.api import errors
from app.api.auth import key_refusal
from app.api.body_limit import BodyLimit
from app.api.gate import RequestGate
from app.api.routes import (
    audit,
    award_actions,
    awards,
    budgets,
    eligibility,
    enterprises,
    findings,
    gaps,
    health,
    imports,
    matching,
    metrics,
    policies,
    vocabulary,
)
from app.catalog.loader import load_catalog
from app.catalog.places import Level
from app.config import Settings, get_settings
from app.console import mount as mount_console
from app.db.privileges import service_can_alter_audit_log
from app.db.session import make_engine, make_sessionmaker
from app.gc_freeze import freeze_start_up
from app.jobs.in_process import InProcessJobs
from app.jobs.runtime import Runtime
from app.observability.requests import RequestObserver, route_templates
from app.services.catalog_sync import record_catalog
from app.services.enterprises import misplaced
from app.services.rate_limits import rate_limit

log = logging.getLogger("incentives")

DESCRIPTION = """
A calculator of government incentive policies (Nanjing, Jiangsu, national rules):
the catalog, eligibility with reasons clause by clause, capped award amounts, and a
ledger of awards with their full trace. Money is a decimal string in yuan with two
places; every error is `application/problem+json` (RFC 9457).
"""

# The routes declared with `open_post` (app/api/rate_limit.py): no pooled connection,
# no thread, so the gate does not queue them (tests/api/test_rate_limit.py holds the list).
OPEN_CALCULATOR = ("/v1/eligibility", "/v1/gaps")

OWNS_AUDIT_LOG = (
    "the service's database role owns audit_log (or is a superuser), so whoever has its "
    "credentials can drop the append-only triggers: run the service as a role that owns "
    "nothing (README, 'Database roles')"
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.catalog = load_catalog(settings.catalog_dir)
        engine = make_engine(
            settings.database_url, connect_timeout=settings.database_connect_timeout
        )
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.rate_limit = rate_limit(
            settings.database_url, settings.public_rate_limit_per_minute
        )
        with engine.connect() as connection:
            if service_can_alter_audit_log(connection):
                log.warning(OWNS_AUDIT_LOG)
        with app.state.sessionmaker.begin() as session:
            record_catalog(session, app.state.catalog, actor="service start-up")
            _warn_of_misplaced(misplaced(session, app.state.catalog))
        # Runs, the idempotency purge and audit checkpoints are jobs: executed by
        # `incentives worker` processes, or (SQLite) by a thread of the service.
        jobs = None
        if settings.runs_jobs_in_process:
            jobs = InProcessJobs(Runtime(settings, app.state.catalog, app.state.sessionmaker))
            jobs.start()
        app.state.jobs = jobs
        log.info(
            "catalog %s loaded: %d policies",
            app.state.catalog.hash[:12],
            len(app.state.catalog.policies),
        )
        if settings.gc_freeze:
            freeze_start_up()
        yield
        if jobs is not None:  # this start-up's own (an app may be started twice)
            jobs.stop()
        app.state.rate_limit.close()
        engine.dispose()

    app = FastAPI(
        title="Policy incentive calculator",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=errors.responses(500),
    )
    errors.install(app, check_key=key_refusal)
    # FIX (ledger tests): queue requests beyond the database pool in the event loop;
    # see app/api/gate.py (500s after 30 s under a burst of approvals, both backends).
    # The liveness probe is not queued either: it must answer while the pool is busy.
    # Nor is readiness: it takes no pooled connection (app/observability/readiness.py),
    # and queued behind requests waiting for a database that is down it would not
    # answer the probe in time to say so.
    app.add_middleware(RequestGate, unqueued=(*OPEN_CALCULATOR, health.LIVENESS, health.READINESS))
    # Outside the gate: an oversized body is refused before it takes a place there, and
    # before FastAPI reads and parses it (see app/api/body_limit.py).
    app.add_middleware(
        BodyLimit,
        default=(settings.max_body_bytes, "MAX_BODY_BYTES"),
        larger={
            "/v1/imports": (settings.max_import_bytes, "MAX_IMPORT_BYTES"),
            "/console/imports": (settings.max_import_bytes, "MAX_IMPORT_BYTES"),
        },
    )
    # Each router straight under the application with the prefix, rather than under a
    # `/v1` router of its own: the framework matches a request level by level, twice
    # per level, and the extra level cost every request about 35 µs (a third of what
    # validating an eligibility request costs).
    mounted = [
        *(
            ("/v1", module.router)
            for module in (
                policies,
                vocabulary,
                eligibility,
                enterprises,
                findings,
                gaps,
                awards,
                award_actions,
                budgets,
                audit,
                matching,
                imports,
            )
        ),
        ("", health.router),
        ("", metrics.router),
    ]
    for prefix, router in mounted:
        app.include_router(router, prefix=prefix)
    # Outermost of all (added last): every request is timed, counted and logged with its
    # id and route template, the refused ones included (app/observability/requests.py).
    mount_console(app, settings.console_secret)
    app.add_middleware(RequestObserver, templates=route_templates(mounted))
    _register_problem_schema(app)
    return app


def _warn_of_misplaced(found: list[tuple[dict[Level, str | None], int]]) -> None:
    """Say at start-up which stored locations name no one place (see ``misplaced``)."""
    for location, count in found:
        named = ", ".join(f"{k} {v}" for k, v in location.items() if v is not None)
        log.warning(
            "%d stored enterprise(s) are located at %s, which is not one place of the "
            "catalog: no portal reaches them until an admin corrects the location "
            "(PUT /v1/enterprises/{id}; GET /v1/enterprises?city=… finds them)",
            count,
            named or "nowhere",
        )


def _register_problem_schema(app: FastAPI) -> None:
    """Put the Problem model in the OpenAPI components the error responses refer to."""
    original = app.openapi

    def openapi() -> dict:  # type: ignore[type-arg]
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (errors.Problem, errors.FieldError):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(model_schema.pop("$defs", {}))
            components[model.__name__] = model_schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
