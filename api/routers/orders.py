"""Production orders: their state, work orders and event trail, for their buyer team,
planners and admins."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, func, select

from api.deps import (
    AnyPrincipalDep,
    Principal,
    ReleasingRoute,
    SessionDep,
    TemporalDep,
    read_and_release,
)
from api.errors import UPDATE_RPC_TIMEOUT, update_errors
from api.planned import (
    ProductionOrderBrief,
    hours_late_of,
    planned_finishes,
    with_finish,
)
from models.errors import Conflict, NotFound
from models.queues import production_order_workflow_id
from models.schemas import (
    CLOSED_ORDER_STATUSES,
    MAX_INT,
    CancelOrderInput,
    CancelOrderResult,
    ProductionOrderStatus,
    PurchaseOrderStatus,
    ReservationStatus,
    Role,
    RowId,
    WorkOrderStatus,
)
from models.tables import (
    DemandLine,
    Event,
    Fabric,
    FabricPurchaseOrder,
    FabricReservation,
    Factory,
    ProductionOrder,
    Shipment,
    WorkCentre,
    WorkOrder,
)
from workflows.production_order import ProductionOrderWorkflow

router = APIRouter(
    prefix="/v1/production-orders", tags=["production orders"], route_class=ReleasingRoute
)


class EventPublic(BaseModel):
    at: datetime
    actor: str
    entity: str
    entity_id: int
    kind: str
    data: dict[str, Any]


class WorkOrderSummary(BaseModel):
    id: int
    seq: int
    attempt: int = Field(description="1, then 2, 3 for the make-ups (recut, rework) of seq.")
    operation_kind: str
    factory_id: int
    factory_code: str
    work_centre_id: int
    work_centre_code: str
    quantity: int
    status: WorkOrderStatus
    planned_start: datetime
    planned_end: datetime
    good_quantity: int | None
    defective_quantity: int | None


class StagePublic(BaseModel):
    """Time the order spent in one status: its lead time, stage by stage."""

    status: ProductionOrderStatus
    entered_at: datetime
    left_at: datetime | None = Field(description="None: the order is in this stage now.")
    hours: float


class ReservationPublic(BaseModel):
    fabric_code: str
    metres: float
    status: ReservationStatus


class PurchasePublic(BaseModel):
    id: int
    fabric_code: str
    metres: float
    status: PurchaseOrderStatus
    expected_at: datetime
    delivered_at: datetime | None


class ShipmentPublic(BaseModel):
    """The pieces that went to one customer's line, and the work orders that made them."""

    id: int
    line_no: int
    customer_ref: str
    size: str
    quantity: int
    personalisation: str | None
    work_order_ids: list[int]
    shipped_at: datetime


class ProductionOrderSummary(ProductionOrderBrief):
    batch_id: int
    team_id: int
    good_quantity: int
    created_at: datetime
    completed_at: datetime | None


class ProductionOrderDetail(ProductionOrderSummary):
    size_breakdown: dict[str, int]
    lead_time_hours: float = Field(description="From creation to shipping (or to now).")
    stages: list[StagePublic]
    work_orders: list[WorkOrderSummary]
    reservations: list[ReservationPublic]
    purchase_orders: list[PurchasePublic]
    shipments: list[ShipmentPublic]
    events: list[EventPublic]


def _visible_order(session: Session, order_id: int, principal: Principal) -> ProductionOrder:
    """The order, if this principal may see it: its buyer team, planners and admins."""
    order = session.get(ProductionOrder, order_id)
    visible = order is not None and (
        principal.role in (Role.PLANNER, Role.ADMIN)
        or (principal.role == Role.BUYER and order.team_id == principal.scope_id)
    )
    if order is None or not visible:
        raise NotFound(f"production order {order_id} not found")
    return order


class ProductionOrderPage(BaseModel):
    total: int = Field(description="Orders matching the filters, over all pages.")
    orders: list[ProductionOrderSummary]


@router.get("", response_model=ProductionOrderPage)
def list_production_orders(
    principal: AnyPrincipalDep,
    session: SessionDep,
    status_: Annotated[list[ProductionOrderStatus] | None, Query(alias="status")] = None,
    batch_id: RowId | None = None,
    style: Annotated[str | None, Query(max_length=50, description="A style code")] = None,
    late: Annotated[
        bool, Query(description="Only orders the live plan finishes after their due date")
    ] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> ProductionOrderPage:
    """Production orders, newest first; with ``late``, the latest-finishing first. A buyer
    team sees its own, planners and admins every team's."""
    if principal.role not in (Role.BUYER, Role.PLANNER, Role.ADMIN):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "production orders are listed for buyer teams, planners and admins",
        )
    where = []
    if principal.role == Role.BUYER:
        where.append(col(ProductionOrder.team_id) == principal.scope_id)
    if status_:
        where.append(col(ProductionOrder.status).in_(status_))
    if batch_id is not None:
        where.append(col(ProductionOrder.batch_id) == batch_id)
    if style is not None:
        where.append(col(ProductionOrder.style_code) == style)
    query = select(ProductionOrder).where(*where)
    if late:
        # Lateness compares a timestamp with the end of a date: in Python, over the open
        # orders, rather than in each database's own date arithmetic.
        finishes = planned_finishes(session)
        open_orders = session.exec(
            query.where(col(ProductionOrder.status).not_in(CLOSED_ORDER_STATUSES))
        )
        rows = sorted(
            (o for o in open_orders if hours_late_of(o, finishes) > 0),
            key=lambda o: (-hours_late_of(o, finishes), o.id or 0),
        )
        return ProductionOrderPage(
            total=len(rows),
            orders=[
                with_finish(ProductionOrderSummary, o, finishes)
                for o in rows[offset : offset + limit]
            ],
        )
    total = session.exec(select(func.count()).select_from(ProductionOrder).where(*where)).one()
    page = session.exec(
        query.order_by(col(ProductionOrder.id).desc()).limit(limit).offset(offset)
    ).all()
    finishes = planned_finishes(session, [o.id or 0 for o in page])
    return ProductionOrderPage(
        total=total, orders=[with_finish(ProductionOrderSummary, o, finishes) for o in page]
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/{order_id}/cancel",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=CancelOrderResult,
    responses={409: {"description": "The order is shipping, done or cancelled already"}},
)
async def cancel_production_order(
    order_id: RowId,
    body: CancelIn,
    principal: AnyPrincipalDep,
    session: SessionDep,
    client: TemporalDep,
) -> CancelOrderResult:
    """Cancel the order at whatever step it is. The order's workflow then undoes, latest
    first: work orders not completed are withdrawn (claimed ones too: the factory's next
    heartbeat or completion is refused), its plan slots are freed, its fabric goes back
    to stock (or counts as consumed once the cutting is done), purchases not delivered
    are cancelled, and its customers' lines are declined with the reason. Follow it with
    ``GET /v1/production-orders/{id}``."""
    order = await read_and_release(session, _visible_order, order_id, principal)
    if order.status in CLOSED_ORDER_STATUSES:
        raise Conflict(
            f"production order {order_id} is {order.status.value}; it can no longer be cancelled"
        )
    workflow_id = order.workflow_id or production_order_workflow_id(order_id)
    handle = client.get_workflow_handle_for(ProductionOrderWorkflow.run, workflow_id)
    with update_errors(f"production order {order_id} is not running"):
        return await handle.execute_update(
            ProductionOrderWorkflow.cancel,
            CancelOrderInput(reason=body.reason, actor=principal.name),
            rpc_timeout=UPDATE_RPC_TIMEOUT,
        )


@router.get("/{order_id}", response_model=ProductionOrderDetail)
def get_production_order(
    order_id: RowId, principal: AnyPrincipalDep, session: SessionDep
) -> ProductionOrderDetail:
    """The order, its work orders and its event trail (the order's and its work orders')."""
    order = _visible_order(session, order_id, principal)
    work_orders = session.exec(
        select(WorkOrder)
        .where(WorkOrder.production_order_id == order_id)
        .order_by(col(WorkOrder.seq), col(WorkOrder.attempt))
    ).all()
    wo_ids = [w.id for w in work_orders]
    events = session.exec(
        select(Event)
        .where(
            ((col(Event.entity) == "production_order") & (col(Event.entity_id) == order_id))
            | ((col(Event.entity) == "work_order") & col(Event.entity_id).in_(wo_ids))
        )
        .order_by(col(Event.at), col(Event.id))
    ).all()
    fabric_codes = dict(session.exec(select(Fabric.id, Fabric.code)).all())
    factory_codes = dict(session.exec(select(Factory.id, Factory.code)).all())
    centre_codes = dict(
        session.exec(
            select(WorkCentre.id, WorkCentre.code).where(
                col(WorkCentre.id).in_({w.work_centre_id for w in work_orders})
            )
        ).all()
    )
    reservations = session.exec(
        select(FabricReservation).where(FabricReservation.production_order_id == order_id)
    ).all()
    purchases = session.exec(
        select(FabricPurchaseOrder)
        .where(FabricPurchaseOrder.production_order_id == order_id)
        .order_by(col(FabricPurchaseOrder.id))
    ).all()
    shipments = session.exec(
        select(Shipment, DemandLine.line_no)
        .join(DemandLine, col(DemandLine.id) == col(Shipment.demand_line_id))
        .where(Shipment.production_order_id == order_id)
        .order_by(col(DemandLine.line_no))
    ).all()
    stages = stages_of(order.created_at, events, datetime.now(UTC))
    end = order.completed_at or datetime.now(UTC)
    finishes = planned_finishes(session, [order_id])
    return ProductionOrderDetail(
        **order.model_dump(exclude={"work_orders", "events"}),
        lead_time_hours=round((end - order.created_at).total_seconds() / 3600, 3),
        planned_finish=finishes.get(order_id),
        hours_late=hours_late_of(order, finishes),
        stages=stages,
        work_orders=[
            WorkOrderSummary(
                **w.model_dump(),
                factory_code=factory_codes.get(w.factory_id, "?"),
                work_centre_code=centre_codes.get(w.work_centre_id, "?"),
            )
            for w in work_orders
        ],
        reservations=[
            ReservationPublic(
                fabric_code=fabric_codes.get(r.fabric_id, "?"), metres=r.metres, status=r.status
            )
            for r in reservations
        ],
        purchase_orders=[
            PurchasePublic(
                id=po.id or 0,
                fabric_code=fabric_codes.get(po.fabric_id, "?"),
                metres=po.metres,
                status=po.status,
                expected_at=po.expected_at,
                delivered_at=po.delivered_at,
            )
            for po in purchases
        ],
        shipments=[
            ShipmentPublic(**shipment.model_dump(), line_no=line_no)
            for shipment, line_no in shipments
        ],
        events=[EventPublic.model_validate(e, from_attributes=True) for e in events],
    )


def stages_of(created_at: datetime, events: Sequence[Event], now: datetime) -> list[StagePublic]:
    """The order's status history, from its ``status:…`` events: how long each stage took.
    The order starts ``created``; a terminal status (done, cancelled) is the last stage and
    takes no time."""
    changes = [
        (e.at, ProductionOrderStatus(e.kind.removeprefix("status:")))
        for e in events
        if e.entity == "production_order" and e.kind.startswith("status:")
    ]
    stages: list[StagePublic] = []
    entered, current = created_at, ProductionOrderStatus.CREATED
    for at, next_status in [*changes, (None, None)]:
        left = at if at is not None else (entered if current in CLOSED_ORDER_STATUSES else None)
        hours = ((left or now) - entered).total_seconds() / 3600
        stages.append(
            StagePublic(status=current, entered_at=entered, left_at=left, hours=round(hours, 3))
        )
        if at is None or next_status is None:
            break
        entered, current = at, next_status
    return stages
