"""When the live plan finishes open production orders, for the API's views of orders."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import TypeVar

from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, select

from models.rules import hours_late
from models.schemas import OPEN_ORDER_STATUSES, ProductionOrderStatus
from models.tables import PlanAssignment, ProductionOrder, live_plan_ids


class ProductionOrderBrief(BaseModel):
    """An order as a list shows it, with when the live plan finishes it."""

    id: int
    style_code: str
    colour: str
    quantity: int
    reorder_round: int = Field(description="0: the batch's pick; 1: the test batch's reorder.")
    status: ProductionOrderStatus
    due_date: date | None
    planned_finish: datetime | None = Field(
        description="The end of its last operation in the live plan; None before it is "
        "placed and once it is done or cancelled."
    )
    hours_late: float = Field(
        description="How far the planned finish lies past the end of the due date (0: on time)."
    )


B = TypeVar("B", bound=ProductionOrderBrief)


def planned_finishes(
    session: Session, order_ids: Collection[int] | None = None
) -> dict[int, datetime]:
    """The live plan's finish (its last operation's end) of every open order it holds, or
    of those among ``order_ids``. Done and cancelled orders have none."""
    query = (
        select(PlanAssignment.production_order_id, func.max(col(PlanAssignment.end)))
        .join(ProductionOrder, col(ProductionOrder.id) == col(PlanAssignment.production_order_id))
        .where(
            col(PlanAssignment.plan_id) == live_plan_ids().scalar_subquery(),
            col(ProductionOrder.status).in_(OPEN_ORDER_STATUSES),
        )
        .group_by(col(PlanAssignment.production_order_id))
    )
    if order_ids is not None:
        query = query.where(col(PlanAssignment.production_order_id).in_(order_ids))
    return dict(session.exec(query).all())


def hours_late_of(order: ProductionOrder, finishes: dict[int, datetime]) -> float:
    """Hours the live plan finishes ``order`` past the end of its due date (0.0: on time,
    no due date, or not in the plan)."""
    finish = finishes.get(order.id or 0)
    return hours_late(finish, order.due_date) if finish is not None else 0.0


def with_finish(view: type[B], order: ProductionOrder, finishes: dict[int, datetime]) -> B:
    """``order`` as ``view``, with its planned finish and lateness from ``finishes``."""
    return view(
        **order.model_dump(),
        planned_finish=finishes.get(order.id or 0),
        hours_late=hours_late_of(order, finishes),
    )
