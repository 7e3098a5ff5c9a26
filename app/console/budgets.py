"""Budgets the signed-in key may see, with their utilisation as a chart."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from app.api.deps import CatalogDep, SessionDep
from app.api.routes import budgets as budgets_api
from app.console.charts import stacked_bars
from app.console.pages import FiscalYear, QueryText, blank_or, render
from app.console.session import ConsoleActor

router = APIRouter()


@router.get("/budgets", response_class=HTMLResponse)
def budget_page(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    fiscal_year: Annotated[QueryText | None, Query()] = None,
) -> Response:
    year = blank_or(FiscalYear, fiscal_year, "fiscal_year")
    items = budgets_api.utilisation(session, catalog, actor, fiscal_year=year)["items"]
    chart = stacked_bars(
        [
            (
                f"{b['policy_id']} · {b['payer_jurisdiction'] or '—'} · {b['fiscal_year']}",
                [
                    ("disbursed", Decimal(b["disbursed"])),
                    ("committed", Decimal(b["committed"])),
                    ("remaining", max(Decimal(b["remaining"]), Decimal(0))),
                ],
            )
            for b in items
        ]
    )
    return render(
        request,
        "budgets.html",
        {"items": items, "chart": chart, "fiscal_year": year or ""},
        actor=actor,
    )
