"""Planners' what-if scenarios: run one, watch its progress, compare, cancel, apply.

A scenario runs as ``workflows.scenario.ScenarioWorkflow``; its solve writes progress and
results to the ``scenario`` row, which is what these routes read. Cancel and apply are
Updates on the workflow, so the planner hears the verdict at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy

from api.deps import (
    PlannerDep,
    ReleasingRoute,
    Runtime,
    RuntimeDep,
    SessionDep,
    TemporalDep,
    read_and_release,
)
from api.errors import UPDATE_RPC_TIMEOUT, update_errors
from models.errors import Conflict, InvalidInput, NotFound
from models.scenarios import (
    ApplyInput,
    ApplyResult,
    CapacityEdit,
    DueDateEdit,
    FabricDelayEdit,
    FactoryDownEdit,
    OvertimeEdit,
    PlanKpis,
    RushOrderEdit,
    ScenarioInput,
    ScenarioRequest,
    ScenarioStatus,
    ScenarioView,
    WorkCentreDownEdit,
    plan_moved,
)
from models.schemas import CLOSED_ORDER_STATUSES, MAX_INT, PlanStatus, RowId
from models.tables import Factory, Plan, ProductionOrder, Scenario, Style, WorkCentre
from workflows.scenario import ScenarioWorkflow

router = APIRouter(prefix="/v1/scenarios", tags=["planners"], route_class=ReleasingRoute)


def scenario_workflow_id(scenario_id: int) -> str:
    return f"scenario-{scenario_id}"


def check_edits(session: Session, request: ScenarioRequest) -> None:
    """Every factory, work centre, style and order an edit names exists (422 naming the
    edit otherwise), so a typo fails here and not in the solver."""
    factories = set(session.exec(select(Factory.code)).all())
    centres = set(session.exec(select(WorkCentre.code)).all())
    styles = {s.code: s for s in session.exec(select(Style)).all()}
    for i, edit in enumerate(request.edits):
        where = f"edits[{i}]"
        if isinstance(edit, FactoryDownEdit | OvertimeEdit) and edit.factory not in factories:
            raise InvalidInput(
                f"{where}: unknown factory {edit.factory!r}; one of {sorted(factories)}",
                field=where,
            )
        if isinstance(edit, WorkCentreDownEdit | CapacityEdit) and edit.work_centre not in centres:
            raise InvalidInput(f"{where}: unknown work centre {edit.work_centre!r}", field=where)
        if isinstance(edit, RushOrderEdit):
            style = styles.get(edit.style)
            if style is None:
                raise InvalidInput(f"{where}: unknown style {edit.style!r}", field=where)
            if edit.colour and edit.colour not in style.colours:
                raise InvalidInput(
                    f"{where}: colour {edit.colour!r} is not offered; one of {style.colours}",
                    field=where,
                )
        if isinstance(edit, DueDateEdit | FabricDelayEdit):
            order = session.get(ProductionOrder, edit.production_order_id)
            if order is None or order.status in CLOSED_ORDER_STATUSES:
                raise InvalidInput(
                    f"{where}: production order {edit.production_order_id} is not open",
                    field=where,
                )


def view_of(s: Scenario, live: Plan | None = None) -> ScenarioView:
    """The scenario as the API shows it; with the ``live`` plan, how much it moved since."""
    same_plan = live is not None and live.version == s.base_plan_version
    changes = live.revision - s.base_revision if live is not None and same_plan else None
    return ScenarioView.model_validate(
        {
            "id": s.id,
            "name": s.name,
            "status": s.status,
            "created_by": s.created_by,
            "created_at": s.created_at,
            "finished_at": s.finished_at,
            "applied_at": s.applied_at,
            "base_plan_version": s.base_plan_version,
            "base_revision": s.base_revision,
            "live_changes_since": changes if s.status == ScenarioStatus.DONE else None,
            "edits": s.edits,
            "weights": s.weights,
            "time_limit_s": s.time_limit_s,
            "progress": s.progress,
            "kpis": s.kpis,
            "live_kpis": s.live_kpis,
            "greedy_kpis": s.greedy_kpis,
            "diff": s.diff,
            "late_orders": s.late_orders,
            "stopped_early": s.stopped_early,
            "error": s.error,
        }
    )


def live_plan(session: Session) -> Plan | None:
    return session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one_or_none()


def _scenario(session: Session, scenario_id: int) -> Scenario:
    scenario = session.get(Scenario, scenario_id)
    if scenario is None:
        raise NotFound(f"scenario {scenario_id} not found", field="id")
    return scenario


@router.post("", response_model=ScenarioView, status_code=status.HTTP_202_ACCEPTED)
async def run_scenario(
    body: ScenarioRequest,
    principal: PlannerDep,
    session: SessionDep,
    client: TemporalDep,
    runtime: RuntimeDep,
) -> ScenarioView:
    """Start a scenario: the live plan with ``edits``, solved for at most ``time_limit_s``.
    Answers at once (202); ``GET /v1/scenarios/{id}`` shows its progress and results."""
    return await create_scenario(session, client, runtime, body, principal.name)


async def create_scenario(
    session: Session, client: Client, runtime: Runtime, body: ScenarioRequest, actor: str
) -> ScenarioView:
    """Check the edits, keep the scenario and start its workflow (the API and the page)."""
    view = await read_and_release(session, _save_scenario, body, actor)
    await start_workflow(client, runtime, view.id, body.time_limit_s)
    return view


def _save_scenario(session: Session, body: ScenarioRequest, actor: str) -> ScenarioView:
    check_edits(session, body)
    live = live_plan(session)
    scenario = Scenario(
        name=body.name,
        created_by=actor,
        base_plan_version=live.version if live else 0,
        base_revision=live.revision if live else 0,
        edits=[e.model_dump(mode="json") for e in body.edits],
        weights=body.weights.model_dump(mode="json"),
        time_limit_s=body.time_limit_s,
    )
    session.add(scenario)
    session.commit()
    session.refresh(scenario)
    scenario.workflow_id = scenario_workflow_id(scenario.id or 0)
    session.commit()
    return view_of(scenario)


async def start_workflow(
    client: Client, runtime: Runtime, scenario_id: int, time_limit_s: float
) -> None:
    await client.start_workflow(
        ScenarioWorkflow.run,
        ScenarioInput(
            scenario_id=scenario_id,
            time_limit_s=time_limit_s,
            solver_task_queue=runtime.config.solver_task_queue,
        ),
        id=scenario_workflow_id(scenario_id),
        task_queue=runtime.config.orchestration_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
    )


@router.get("", response_model=list[ScenarioView])
def list_scenarios(
    principal: PlannerDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[ScenarioView]:
    """The latest scenarios, newest first."""
    rows = session.exec(select(Scenario).order_by(col(Scenario.id).desc()).limit(limit)).all()
    live = live_plan(session)
    return [view_of(s, live) for s in rows]


class CompareRow(BaseModel):
    """One plan in the comparison: the live plan, a scenario, or a scenario's greedy
    baseline (the ERP's earliest-due-date dispatcher on the same problem)."""

    plan: str
    scenario_id: int | None = None
    kpis: PlanKpis


class Comparison(BaseModel):
    rows: list[CompareRow]
    columns: list[str] = Field(default_factory=lambda: list(PlanKpis.model_fields))


@router.get("/compare", response_model=Comparison)
def compare_scenarios(
    principal: PlannerDep,
    session: SessionDep,
    ids: Annotated[str, Query(description="Scenario ids, comma-separated: 3,5,8")],
) -> Comparison:
    """A KPI table across finished scenarios: the live plan (as the first scenario saw it),
    then each scenario with the greedy baseline of its own problem."""
    try:
        wanted = [int(part) for part in ids.split(",") if part.strip()]
    except ValueError as err:
        raise InvalidInput(
            f"ids: {ids!r} is not a comma-separated list of ids", field="ids"
        ) from err
    if not wanted or len(wanted) > 20:
        raise InvalidInput("ids: give 1 to 20 scenario ids", field="ids")
    if any(not 1 <= i <= MAX_INT for i in wanted):
        raise InvalidInput(f"ids: a scenario id is from 1 to {MAX_INT}", field="ids")
    rows: list[CompareRow] = []
    for scenario_id in wanted:
        s = _scenario(session, scenario_id)
        if s.kpis is None or s.greedy_kpis is None or s.live_kpis is None:
            raise InvalidInput(
                f"ids: scenario {scenario_id} is {s.status.value} and has no plan yet",
                field="ids",
            )
        if not rows:
            rows.append(CompareRow(plan="live plan", kpis=PlanKpis.model_validate(s.live_kpis)))
        label = s.name or f"scenario {scenario_id}"
        rows.append(
            CompareRow(plan=label, scenario_id=scenario_id, kpis=PlanKpis.model_validate(s.kpis))
        )
        rows.append(
            CompareRow(
                plan=f"{label}: greedy baseline",
                scenario_id=scenario_id,
                kpis=PlanKpis.model_validate(s.greedy_kpis),
            )
        )
    return Comparison(rows=rows)


@router.get("/{scenario_id}", response_model=ScenarioView)
def get_scenario(scenario_id: RowId, principal: PlannerDep, session: SessionDep) -> ScenarioView:
    return view_of(_scenario(session, scenario_id), live_plan(session))


@router.post("/{scenario_id}/cancel", response_model=ScenarioView)
async def cancel_scenario(
    scenario_id: RowId, principal: PlannerDep, session: SessionDep, client: TemporalDep
) -> ScenarioView:
    """While it solves: stop and keep the best plan so far. Once solved: drop it."""
    workflow_id = await read_and_release(session, _workflow_id, scenario_id)
    handle = client.get_workflow_handle_for(ScenarioWorkflow.run, workflow_id)
    with update_errors(f"scenario {scenario_id} has ended"):
        await handle.execute_update(ScenarioWorkflow.cancel, rpc_timeout=UPDATE_RPC_TIMEOUT)
    return await read_and_release(session, _view, scenario_id)


def _workflow_id(session: Session, scenario_id: int) -> str:
    return _scenario(session, scenario_id).workflow_id or scenario_workflow_id(scenario_id)


def _view(session: Session, scenario_id: int) -> ScenarioView:
    return view_of(_scenario(session, scenario_id))


@router.post("/{scenario_id}/apply", response_model=ApplyResult)
async def apply_scenario(
    scenario_id: RowId, principal: PlannerDep, session: SessionDep, client: TemporalDep
) -> ApplyResult:
    """Make the scenario's plan the live plan, over what was placed or changed in the live
    plan since the scenario's snapshot (kept where it is). 409 if that collides with the
    scenario's plan, if another plan was applied since, or if the scenario has no plan or
    was applied already."""
    workflow_id = await read_and_release(session, _applicable, scenario_id)
    handle = client.get_workflow_handle_for(ScenarioWorkflow.run, workflow_id)
    with update_errors(f"scenario {scenario_id} has ended; run it again"):
        return await handle.execute_update(
            ScenarioWorkflow.apply,
            ApplyInput(scenario_id=scenario_id, actor=principal.name),
            rpc_timeout=UPDATE_RPC_TIMEOUT,
        )


def _applicable(session: Session, scenario_id: int) -> str:
    """The scenario's workflow id, if it can be applied: finished, and based on the live
    plan's version (seen here without a workflow round trip; the apply activity checks
    again under the plan's lock, and rebases over the changes since)."""
    scenario = _scenario(session, scenario_id)
    if scenario.status != ScenarioStatus.DONE:
        raise Conflict(
            f"scenario {scenario_id} is {scenario.status.value}; only a finished scenario "
            "can be applied"
        )
    live = live_plan(session)
    now = (live.version, live.revision) if live else (0, 0)
    if now[0] != scenario.base_plan_version:
        then = (scenario.base_plan_version, scenario.base_revision)
        raise Conflict(plan_moved(scenario_id, then, now))
    return scenario.workflow_id or scenario_workflow_id(scenario_id)
