"""What-if for portal officers: one policy's cap, rate, threshold or budget changed, or
the policy switched off, run over the officer's area as ``POST /v1/simulations`` runs
it; then per policy the beneficiaries and totals of the baseline beside the scenario,
as a table and a chart. Nothing in the ledger changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from app.api.deps import CatalogDep, SessionDep
from app.api.routes import matching as matching_api
from app.api.schemas.bounded import RunId
from app.console.charts import stacked_bars
from app.console.pages import FiscalYear, render, see_other
from app.console.session import ConsoleActor, CsrfChecked
from app.services.access import require_reader
from app.services.errors import Invalid

router = APIRouter()


@router.get("/what-if", response_class=HTMLResponse)
def what_if_form(request: Request, catalog: CatalogDep, actor: ConsoleActor) -> Response:
    require_reader(actor, "portal", "auditor")
    policies = sorted(catalog.policies.values(), key=lambda p: p.id)
    return render(request, "what_if.html", {"policies": policies}, actor=actor)


def _scenario(
    fiscal_year: int, policy_id: str, switch_off: bool, parameter: str, value: str, budget: str
) -> matching_api.SimulationRequest:
    """The form as the API's simulation request (its schema checks every field)."""
    change: dict[str, Any] = {"policy_id": policy_id, "enabled": not switch_off}
    if parameter.strip() or value.strip():
        change["parameters"] = {parameter.strip(): value.strip()}
    if budget.strip():
        change["budget"] = budget.strip().replace(",", "")
    try:
        return matching_api.SimulationRequest.model_validate(
            {"fiscal_year": fiscal_year, "changes": [change]}
        )
    except ValidationError as exc:
        errors = [
            {"pointer": ".".join(map(str, e["loc"][2:] or e["loc"])), "detail": e["msg"]}
            for e in exc.errors()
        ]
        raise Invalid("the scenario has fields to correct", errors=errors) from None


@router.post("/what-if", dependencies=[CsrfChecked])
def start_what_if(
    request: Request,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
    fiscal_year: Annotated[FiscalYear, Form()],
    policy_id: Annotated[str, Form(max_length=80)],
    switch_off: Annotated[bool, Form()] = False,
    parameter: Annotated[str, Form(max_length=100)] = "",
    value: Annotated[str, Form(max_length=40)] = "",
    budget: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    body = _scenario(fiscal_year, policy_id, switch_off, parameter, value, budget)
    started = matching_api.start_simulation(body, request, session, catalog, actor)
    return see_other(f"/what-if/{started['id']}")


def _comparison_chart(comparison: dict[str, Any]) -> Any:
    """Two bars per changed policy: the baseline's total, then the scenario's."""
    rows = []
    for policy_id, compared in comparison.items():
        amount = compared["amount"]
        if amount["baseline"] == amount["scenario"] and not compared["switched_off"]:
            continue
        rows.append((f"{policy_id} · baseline", [("baseline", Decimal(amount["baseline"]))]))
        rows.append((f"{policy_id} · scenario", [("scenario", Decimal(amount["scenario"]))]))
    return stacked_bars(rows)


@router.get("/what-if/{run_id}", response_class=HTMLResponse)
def what_if_page(
    request: Request,
    run_id: RunId,
    session: SessionDep,
    catalog: CatalogDep,
    actor: ConsoleActor,
) -> Response:
    run = matching_api.get_simulation(run_id, session, catalog, actor)
    result = run["result"] if run["status"] == "done" else None
    return render(
        request,
        "what_if_run.html",
        {
            "run": run,
            "result": result,
            "chart": _comparison_chart(result["comparison"]) if result else None,
            "finished": run["status"] in ("done", "failed"),
        },
        actor=actor,
    )
