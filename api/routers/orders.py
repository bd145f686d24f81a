"""Production orders: their state, work orders and event trail, for their buyer team,
planners and admins."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlmodel import col, select

from api.deps import AnyPrincipalDep, SessionDep
from models.errors import NotFound
from models.schemas import ProductionOrderStatus, Role, WorkOrderStatus
from models.tables import Event, ProductionOrder, WorkOrder

router = APIRouter(prefix="/v1/production-orders", tags=["production orders"])


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
    operation_kind: str
    factory_id: int
    work_centre_id: int
    quantity: int
    status: WorkOrderStatus
    planned_start: datetime
    planned_end: datetime
    good_quantity: int | None
    defective_quantity: int | None


class ProductionOrderDetail(BaseModel):
    id: int
    batch_id: int
    style_code: str
    colour: str
    quantity: int
    size_breakdown: dict[str, int]
    due_date: date | None
    reorder_round: int = Field(description="0: the batch's pick; 1: the test batch's reorder.")
    status: ProductionOrderStatus
    good_quantity: int
    created_at: datetime
    completed_at: datetime | None
    work_orders: list[WorkOrderSummary]
    events: list[EventPublic]


@router.get("/{order_id}", response_model=ProductionOrderDetail)
def get_production_order(
    order_id: int, principal: AnyPrincipalDep, session: SessionDep
) -> ProductionOrderDetail:
    """The order, its work orders and its event trail (the order's and its work orders')."""
    order = session.get(ProductionOrder, order_id)
    visible = order is not None and (
        principal.role in (Role.PLANNER, Role.ADMIN)
        or (principal.role == Role.BUYER and order.team_id == principal.scope_id)
    )
    if order is None or not visible:
        raise NotFound(f"production order {order_id} not found")
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
    return ProductionOrderDetail(
        **order.model_dump(exclude={"work_orders", "events"}),
        work_orders=[WorkOrderSummary.model_validate(w, from_attributes=True) for w in work_orders],
        events=[EventPublic.model_validate(e, from_attributes=True) for e in events],
    )
