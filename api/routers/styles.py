"""Styles: the catalogue every principal reads; designers approve a style's tech pack
(the design gate of its production orders); buyer teams report a test batch's daily
sales, answer the reorder proposal and follow the style's lifecycle
(workflows/style_lifecycle.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select
from temporalio.client import (
    Client,
)
from temporalio.service import RPCError, RPCStatusCode

from api.deps import (
    AnyPrincipalDep,
    BuyerDep,
    DesignerDep,
    ReleasingRoute,
    SessionDep,
    TemporalDep,
    read_and_release,
)
from api.errors import UPDATE_RPC_TIMEOUT, WorkflowDidNotAnswer, answer_of, update_errors
from models.errors import Conflict, InvalidInput, NotFound
from models.queues import production_order_workflow_id
from models.schemas import (
    ACTIVE_LIFECYCLE_STATUSES,
    LifecycleProgress,
    LifecycleStatus,
    ProductionOrderStatus,
    ReorderDecision,
    ReorderDecisionInput,
    ReorderDecisionResult,
    ReorderProposal,
    SalesReportInput,
    SalesReportResult,
    SizeUnits,
    TechPackStatus,
)
from models.tables import (
    BomLine,
    Event,
    Fabric,
    ProductionOrder,
    RoutingStep,
    SalesReport,
    Style,
    StyleLifecycle,
)
from workflows.production_order import ProductionOrderWorkflow
from workflows.style_lifecycle import StyleLifecycleWorkflow

router = APIRouter(prefix="/v1/styles", tags=["buyer teams"], route_class=ReleasingRoute)


class SalesReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    colour: str = Field(min_length=1)
    day: date
    sizes: list[SizeUnits] = Field(min_length=1, max_length=50)


class ReorderDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    colour: str = Field(min_length=1)
    decision: ReorderDecision
    quantity: int | None = Field(default=None, ge=1, le=1_000_000)
    due_date: date | None = None


class TechPackApproval(BaseModel):
    style_code: str
    tech_pack_status: TechPackStatus
    # Production orders that were waiting at the design gate and were told to go on.
    released_orders: list[int]


class LifecyclePublic(BaseModel):
    id: int
    style_code: str
    colour: str
    status: LifecycleStatus
    test_order_id: int
    reorder_order_id: int | None
    window_closes_at: datetime | None
    decision_due_at: datetime | None
    units_sold_by_size: dict[str, int]
    days_reported: int
    proposal: ReorderProposal | None
    decision: str | None
    reason: str | None


def _active_lifecycle(
    session: Session, team_id: int | None, style: str, colour: str
) -> StyleLifecycle:
    """The team's running lifecycle of the style-colour (the one its test batch started)."""
    query = select(StyleLifecycle).where(
        StyleLifecycle.style_code == style,
        StyleLifecycle.colour == colour,
        col(StyleLifecycle.status).in_(ACTIVE_LIFECYCLE_STATUSES),
    )
    if team_id is not None:
        query = query.where(StyleLifecycle.team_id == team_id)
    found = session.exec(query.order_by(col(StyleLifecycle.id).desc())).first()
    if found is None:
        raise NotFound(
            f"no test batch of {style}/{colour} is being followed for this team; "
            "pick one with test_batch=true first",
            field="colour",
        )
    return found


async def _update(client: Client, lifecycle: StyleLifecycle, update: Any, arg: Any) -> Any:
    handle = client.get_workflow_handle_for(StyleLifecycleWorkflow.run, lifecycle.workflow_id or "")
    try:
        with update_errors(f"lifecycle {lifecycle.id} takes no more updates"):
            return await handle.execute_update(update, arg, rpc_timeout=UPDATE_RPC_TIMEOUT)
    except HTTPException as err:
        # The lifecycle row is written a moment before its workflow starts: not an error.
        starting = lifecycle.status == LifecycleStatus.WAITING_FOR_SALES
        if err.status_code == status.HTTP_409_CONFLICT and starting:
            try:
                await handle.describe()
            except RPCError as missing:
                if missing.status == RPCStatusCode.NOT_FOUND:
                    raise HTTPException(
                        status.HTTP_503_SERVICE_UNAVAILABLE,
                        f"lifecycle {lifecycle.id} is starting; retry in a moment",
                        headers={"Retry-After": "1"},
                    ) from err
        raise


@router.post("/{code}/sales", response_model=SalesReportResult)
async def report_sales(
    code: str, report: SalesReportIn, principal: BuyerDep, session: SessionDep, client: TemporalDep
) -> SalesReportResult:
    """One day's units sold of the team's test batch, by size. The first report opens the
    observation window; a report for a day and size already reported replaces it, so a
    re-sent report counts once. 409 once the window has closed."""
    lifecycle = await read_and_release(
        session, _active_lifecycle, principal.scope_id, code, report.colour
    )
    result: SalesReportResult = await _update(
        client,
        lifecycle,
        StyleLifecycleWorkflow.report_sales,
        SalesReportInput(day=report.day, sizes=report.sizes, actor=principal.name),
    )
    return result


@router.post("/{code}/reorder", response_model=ReorderDecisionResult)
async def decide_reorder(
    code: str,
    answer: ReorderDecisionIn,
    principal: BuyerDep,
    session: SessionDep,
    client: TemporalDep,
) -> ReorderDecisionResult:
    """Accept the proposed reorder, change its quantity (``decision=change`` with
    ``quantity``), or decline it. An accepted or changed reorder becomes a production order."""
    if answer.decision == ReorderDecision.CHANGE and answer.quantity is None:
        raise InvalidInput("quantity is required to change the proposal", field="quantity")
    lifecycle = await read_and_release(
        session, _active_lifecycle, principal.scope_id, code, answer.colour
    )
    result: ReorderDecisionResult = await _update(
        client,
        lifecycle,
        StyleLifecycleWorkflow.decide,
        ReorderDecisionInput(
            decision=answer.decision,
            quantity=answer.quantity,
            due_date=answer.due_date,
            actor=principal.name,
        ),
    )
    return result


@router.get("/{code}/lifecycles", response_model=list[LifecyclePublic])
async def list_lifecycles(
    code: str, principal: BuyerDep, session: SessionDep, client: TemporalDep
) -> list[LifecyclePublic]:
    """The team's test batches of the style, newest first: sales so far, the proposal and
    its reasoning, the decision, and the reorder's production order."""
    rows, sold, days = await read_and_release(session, _lifecycles, code, principal.scope_id)
    out = []
    for row in rows:
        progress = await _progress(client, row)
        out.append(
            LifecyclePublic(
                id=row.id or 0,
                style_code=row.style_code,
                colour=row.colour,
                status=row.status,
                test_order_id=row.test_order_id,
                reorder_order_id=row.reorder_order_id,
                window_closes_at=row.window_closes_at,
                decision_due_at=progress.decision_due_at if progress else None,
                units_sold_by_size=sold.get(row.id or 0, {}),
                days_reported=days.get(row.id or 0, 0),
                proposal=ReorderProposal.model_validate(row.proposal) if row.proposal else None,
                decision=row.decision,
                reason=row.reason,
            )
        )
    return out


def _lifecycles(
    session: Session, code: str, team_id: int | None
) -> tuple[list[StyleLifecycle], dict[int, dict[str, int]], dict[int, int]]:
    """The team's lifecycles of the style, newest first, with units sold by size and the
    days reported, by lifecycle."""
    query = select(StyleLifecycle).where(StyleLifecycle.style_code == code)
    if team_id is not None:
        query = query.where(StyleLifecycle.team_id == team_id)
    rows = session.exec(query.order_by(col(StyleLifecycle.id).desc())).all()
    ids = [r.id for r in rows]
    sold: dict[int, dict[str, int]] = {}
    days: dict[int, int] = {}
    for lifecycle_id, size, units, n_days in session.execute(
        sa.select(
            col(SalesReport.lifecycle_id),
            col(SalesReport.size),
            sa.func.sum(col(SalesReport.units)),
            sa.func.count(sa.distinct(col(SalesReport.day))),
        )
        .where(col(SalesReport.lifecycle_id).in_(ids))
        .group_by(col(SalesReport.lifecycle_id), col(SalesReport.size))
    ).all():
        sold.setdefault(lifecycle_id, {})[size] = int(units)
        days[lifecycle_id] = max(days.get(lifecycle_id, 0), int(n_days))
    return list(rows), sold, days


async def _progress(client: Client, row: StyleLifecycle) -> LifecycleProgress | None:
    """The running workflow's view (the decision deadline lives there); None once done."""
    if row.status not in ACTIVE_LIFECYCLE_STATUSES:
        return None
    handle = client.get_workflow_handle_for(StyleLifecycleWorkflow.run, row.workflow_id or "")
    try:
        return await answer_of(handle.query(StyleLifecycleWorkflow.progress))
    except WorkflowDidNotAnswer:
        return None


class StylePublic(BaseModel):
    """A style as buyer teams order it: what a demand line may name."""

    code: str
    name: str
    garment: str
    size_run: list[str]
    colours: list[str]
    min_order_qty: int = Field(description="Pieces per colour below which a pick is declined.")
    tech_pack_status: TechPackStatus = Field(
        description="Its orders wait at the design gate until a designer approves it."
    )
    minutes_per_piece: float = Field(description="Standard minutes of its whole routing.")


class BomLinePublic(BaseModel):
    fabric_code: str
    fabric_name: str
    consumption_by_size: dict[str, float] = Field(description="Metres per piece, by size.")
    wastage_pct: float
    metres_on_hand: float
    lead_time_days: int = Field(description="The supplier's, when stock runs short.")


class RoutingStepPublic(BaseModel):
    seq: int
    operation_kind: str
    setup_minutes: float
    standard_minutes: float = Field(description="Per piece.")


class StyleDetail(StylePublic):
    """The style's tech pack, for designers and planners, and what waits on it."""

    bill_of_materials: list[BomLinePublic]
    routing: list[RoutingStepPublic]
    orders_at_design_gate: list[int] = Field(
        description="Production orders waiting for the tech pack's approval."
    )


AT_DESIGN_GATE = (ProductionOrderStatus.CREATED, ProductionOrderStatus.AWAITING_DESIGN)


def _style(session: Session, code: str) -> Style:
    style = session.exec(select(Style).where(Style.code == code)).one_or_none()
    if style is None:
        raise NotFound(f"style {code} not found", field="code")
    return style


def _at_design_gate(session: Session, code: str) -> list[tuple[int, str | None]]:
    """The style's production orders waiting at the design gate, oldest first: (id,
    workflow id)."""
    rows = session.exec(
        select(ProductionOrder.id, ProductionOrder.workflow_id)
        .where(ProductionOrder.style_code == code, col(ProductionOrder.status).in_(AT_DESIGN_GATE))
        .order_by(col(ProductionOrder.id))
    ).all()
    return [(order_id or 0, workflow_id) for order_id, workflow_id in rows]


def _routings(session: Session, style_ids: list[int]) -> dict[int, list[RoutingStep]]:
    by_style: dict[int, list[RoutingStep]] = {i: [] for i in style_ids}
    for step in session.exec(
        select(RoutingStep)
        .where(col(RoutingStep.style_id).in_(style_ids))
        .order_by(col(RoutingStep.style_id), col(RoutingStep.seq))
    ):
        by_style[step.style_id].append(step)
    return by_style


def _public(style: Style, routing: list[RoutingStep]) -> StylePublic:
    return StylePublic(
        **style.model_dump(),
        minutes_per_piece=round(sum(step.standard_minutes for step in routing), 2),
    )


@router.get("", response_model=list[StylePublic], tags=["designers"])
def list_styles(
    principal: AnyPrincipalDep,
    session: SessionDep,
    tech_pack: Annotated[
        TechPackStatus | None, Query(description="Only styles whose tech pack is this.")
    ] = None,
) -> list[StylePublic]:
    """The catalogue: every style with its sizes, colours and minimum order quantity, in
    code order; with ``tech_pack=draft``, the styles a designer still has to approve."""
    query = select(Style).order_by(col(Style.code))
    if tech_pack is not None:
        query = query.where(Style.tech_pack_status == tech_pack)
    styles = session.exec(query).all()
    routings = _routings(session, [s.id or 0 for s in styles])
    return [_public(s, routings[s.id or 0]) for s in styles]


@router.get("/{code}", response_model=StyleDetail, tags=["designers"])
def get_style(code: str, principal: AnyPrincipalDep, session: SessionDep) -> StyleDetail:
    """One style with its tech pack (bill of materials with the fabric's stock and lead
    time, and routing) and the production orders waiting at its design gate."""
    style = _style(session, code)
    routing = _routings(session, [style.id or 0])[style.id or 0]
    bom = session.exec(
        select(BomLine, Fabric)
        .join(Fabric, col(Fabric.id) == col(BomLine.fabric_id))
        .where(BomLine.style_id == style.id)
        .order_by(col(Fabric.code))
    ).all()
    return StyleDetail(
        **_public(style, routing).model_dump(),
        bill_of_materials=[
            BomLinePublic(
                fabric_code=fabric.code,
                fabric_name=fabric.name,
                consumption_by_size=line.consumption_by_size,
                wastage_pct=line.wastage_pct,
                metres_on_hand=fabric.metres_on_hand,
                lead_time_days=fabric.lead_time_days,
            )
            for line, fabric in bom
        ],
        routing=[RoutingStepPublic.model_validate(step, from_attributes=True) for step in routing],
        orders_at_design_gate=[order_id for order_id, _ in _at_design_gate(session, code)],
    )


def _approve(session: Session, code: str, actor: str) -> list[tuple[int, str | None]]:
    """Approve the style's tech pack (once: again changes nothing); the orders waiting at
    its design gate."""
    style = _style(session, code)
    missing = [
        what
        for what, table in (("routing", RoutingStep), ("bill of materials", BomLine))
        if session.exec(select(table).where(table.style_id == style.id)).first() is None
    ]
    if missing:
        raise Conflict(
            f"the tech pack of {code} has no {' and no '.join(missing)}; it cannot be approved",
            field="code",
        )
    if style.tech_pack_status != TechPackStatus.APPROVED:
        style.tech_pack_status = TechPackStatus.APPROVED
        session.add(
            Event(
                actor=actor,
                entity="style",
                entity_id=style.id or 0,
                kind="tech_pack_approved",
                data={"style": code},
            )
        )
        session.commit()
    return _at_design_gate(session, code)


@router.post(
    "/{code}/tech-pack/approve",
    response_model=TechPackApproval,
    tags=["designers"],
    responses={409: {"description": "The tech pack has no routing or bill of materials"}},
)
async def approve_tech_pack(
    code: str, principal: DesignerDep, session: SessionDep, client: TemporalDep
) -> TechPackApproval:
    """Approve the style's tech pack (its bill of materials and routing). Production orders
    waiting at the design gate go on to fabric and scheduling. Approving again changes
    nothing and tells any order still waiting once more."""
    waiting = await read_and_release(session, _approve, code, principal.name)
    released = []
    for order_id, workflow_id in waiting:
        handle = client.get_workflow_handle_for(
            ProductionOrderWorkflow.run, workflow_id or production_order_workflow_id(order_id)
        )
        try:
            await handle.signal(ProductionOrderWorkflow.tech_pack_approved)
        except RPCError:
            continue  # not running (yet): it reads the approval when it reaches the gate
        released.append(order_id)
    return TechPackApproval(
        style_code=code, tech_pack_status=TechPackStatus.APPROVED, released_orders=released
    )
