"""Planners: take a factory out of the plan (down) and back in (up). Its open work is
re-planned elsewhere by each production order's workflow."""

from __future__ import annotations

from collections import defaultdict

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select
from temporalio.service import RPCError

from api.deps import PlannerDep, SessionDep, TemporalDep
from api.errors import temporal_unavailable, temporal_unreachable
from models.errors import NotFound
from models.queues import production_order_workflow_id
from models.schemas import FactoryDown, WorkOrderStatus
from models.tables import Event, Factory, ProductionOrder, WorkOrder
from workflows.production_order import ProductionOrderWorkflow

router = APIRouter(prefix="/v1/factories", tags=["planners"])


class DownIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class FactoryState(BaseModel):
    code: str
    is_down: bool
    # Work orders not yet claimed there, whose production orders were told to move them.
    work_orders_to_move: list[int] = Field(default_factory=list)
    orders_notified: list[int] = Field(default_factory=list)


@router.post("/{code}/down", response_model=FactoryState)
async def factory_down(
    code: str, body: DownIn, principal: PlannerDep, session: SessionDep, client: TemporalDep
) -> FactoryState:
    """Mark a factory down. New placements avoid it; each production order with work there
    that nobody has claimed yet re-plans it at another factory (work already claimed
    stays: the factory is finishing it). Marking it down again re-sends the notices."""
    factory = session.exec(select(Factory).where(Factory.code == code)).one_or_none()
    if factory is None:
        raise NotFound(f"factory {code} not found", field="code")
    if not factory.is_down:
        factory.is_down = True
        session.add(
            Event(
                actor=principal.name,
                entity="factory",
                entity_id=factory.id or 0,
                kind="down",
                data={"reason": body.reason},
            )
        )
        session.commit()
    open_work = session.exec(
        select(WorkOrder.id, WorkOrder.production_order_id, ProductionOrder.workflow_id)
        .join(ProductionOrder, col(ProductionOrder.id) == col(WorkOrder.production_order_id))
        .where(
            WorkOrder.factory_id == factory.id,
            col(WorkOrder.status).in_([WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED]),
        )
        .order_by(col(WorkOrder.id))
    ).all()
    session.close()  # the signals below wait on Temporal: hold no connection meanwhile
    by_order: dict[tuple[int, str], list[int]] = defaultdict(list)
    for wo_id, order_id, workflow_id in open_work:
        key = (order_id, workflow_id or production_order_workflow_id(order_id))
        by_order[key].append(wo_id or 0)
    notified = []
    for (order_id, workflow_id), wo_ids in by_order.items():
        handle = client.get_workflow_handle_for(ProductionOrderWorkflow.run, workflow_id)
        try:
            await handle.signal(
                ProductionOrderWorkflow.factory_down,
                FactoryDown(factory_code=code, work_order_ids=wo_ids, reason=body.reason),
            )
        except RPCError as err:
            if temporal_unreachable(err):  # marking it down again re-sends the notices
                raise temporal_unavailable(err) from err
            continue  # the order is not running any more
        notified.append(order_id)
    return FactoryState(
        code=code,
        is_down=True,
        work_orders_to_move=[wo for ids in by_order.values() for wo in ids],
        orders_notified=notified,
    )


@router.post("/{code}/up", response_model=FactoryState)
def factory_up(code: str, principal: PlannerDep, session: SessionDep) -> FactoryState:
    """Mark a factory working again: new placements may use it (moved work stays moved)."""
    factory = session.exec(select(Factory).where(Factory.code == code)).one_or_none()
    if factory is None:
        raise NotFound(f"factory {code} not found", field="code")
    if factory.is_down:
        factory.is_down = False
        session.add(
            Event(actor=principal.name, entity="factory", entity_id=factory.id or 0, kind="up")
        )
        session.commit()
    return FactoryState(code=code, is_down=False)
