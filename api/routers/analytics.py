"""Chain lead time: how long demand takes to become shipped garments, stage by stage,
and how many hand-offs it passes, beside the traditional chain's (models/lead_time.py)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlmodel import col, select

from api.deps import Principal, ReleasingRoute, SessionDep, require
from models.lead_time import MILESTONES, TRADITIONAL_CHAIN, TrailEvent, lead_time
from models.schemas import ProductionOrderStatus, Role
from models.stats import percentile
from models.tables import DemandBatch, Event, ProductionOrder, WorkOrder

router = APIRouter(prefix="/v1/analytics", tags=["planners"], route_class=ReleasingRoute)


class OrderLeadTimePublic(BaseModel):
    production_order_id: int
    batch_id: int
    style_code: str
    colour: str
    quantity: int
    status: ProductionOrderStatus
    at: dict[str, datetime | None] = Field(description=f"Milestones: {', '.join(MILESTONES)}.")
    hours: dict[str, float]
    hand_offs: int


class StageSummary(BaseModel):
    orders: int
    p50_hours: float
    p90_hours: float
    max_hours: float


class LeadTimeReport(BaseModel):
    orders: list[OrderLeadTimePublic]
    # Per stage (and "total"), over the orders that went through it.
    summary: dict[str, StageSummary]
    mean_hand_offs: float | None
    traditional_chain: list[str] = Field(
        description="The chain this replaces: a hand-off at every step, months of lead time."
    )


@router.get("/lead-time", response_model=LeadTimeReport)
def chain_lead_time(
    # Everyone but factories (admins too: require lets them through).
    principal: Annotated[Principal, Depends(require(Role.BUYER, Role.PLANNER, Role.DESIGNER))],
    session: SessionDep,
    shipped_only: bool = True,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> LeadTimeReport:
    """Per production order (newest first) and summarised: demand intake → pick → fabric
    ready → first operation → last operation → shipment, in hours, and the hand-offs
    between customer and factory. A buyer team sees its own orders; planners and admins
    all of them."""
    query = select(ProductionOrder, DemandBatch.created_at).join(
        DemandBatch, col(DemandBatch.id) == col(ProductionOrder.batch_id)
    )
    if principal.role == Role.BUYER:
        query = query.where(ProductionOrder.team_id == principal.scope_id)
    if shipped_only:
        query = query.where(ProductionOrder.status == ProductionOrderStatus.DONE)
    rows = session.exec(query.order_by(col(ProductionOrder.id).desc()).limit(limit)).all()
    order_ids = [o.id for o, _ in rows]
    work_order_of = dict(
        session.exec(
            select(WorkOrder.id, WorkOrder.production_order_id).where(
                col(WorkOrder.production_order_id).in_(order_ids)
            )
        ).all()
    )
    trails: dict[int, list[TrailEvent]] = defaultdict(list)
    for e in session.exec(
        select(Event).where(
            ((col(Event.entity) == "production_order") & col(Event.entity_id).in_(order_ids))
            | ((col(Event.entity) == "work_order") & col(Event.entity_id).in_(work_order_of))
        )
    ).all():
        owner = e.entity_id if e.entity == "production_order" else work_order_of[e.entity_id]
        factory = e.data.get("factory_id")
        trails[owner].append(
            TrailEvent(
                at=e.at,
                entity=e.entity,
                kind=e.kind,
                factory_id=factory if isinstance(factory, int) else None,
            )
        )
    orders = []
    for order, intake_at in rows:
        measured = lead_time(intake_at, order.created_at, trails[order.id or 0])
        orders.append(
            OrderLeadTimePublic(
                production_order_id=order.id or 0,
                batch_id=order.batch_id,
                style_code=order.style_code,
                colour=order.colour,
                quantity=order.quantity,
                status=order.status,
                at=measured.at,
                hours=measured.hours,
                hand_offs=measured.hand_offs,
            )
        )
    return LeadTimeReport(
        orders=orders,
        summary=_summary(orders),
        mean_hand_offs=round(statistics.fmean(o.hand_offs for o in orders), 2) if orders else None,
        traditional_chain=list(TRADITIONAL_CHAIN),
    )


def _summary(orders: list[OrderLeadTimePublic]) -> dict[str, StageSummary]:
    by_stage: dict[str, list[float]] = defaultdict(list)
    for o in orders:
        for stage, hours in o.hours.items():
            by_stage[stage].append(hours)
    return {
        stage: StageSummary(
            orders=len(values),
            p50_hours=round(statistics.median(values), 3),
            p90_hours=round(percentile(values, 0.9), 3),
            max_hours=max(values),
        )
        for stage, values in by_stage.items()
    }
