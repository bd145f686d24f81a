"""A work order's recorded outcome as the answer a factory gets: the same answer for a
retry with the same idempotency key, whether the API or the activity finds it."""

from __future__ import annotations

from models.schemas import CompleteWorkOrderResult, RejectWorkOrderResult
from models.tables import WorkOrder


def completion_of(wo: WorkOrder, *, on_hold: bool = False) -> CompleteWorkOrderResult:
    return CompleteWorkOrderResult(
        work_order_id=wo.id or 0,
        production_order_id=wo.production_order_id,
        good_quantity=wo.good_quantity or 0,
        defective_quantity=wo.defective_quantity or 0,
        work_centre_on_hold=on_hold,
    )


def rejection_of(wo: WorkOrder) -> RejectWorkOrderResult:
    return RejectWorkOrderResult(
        work_order_id=wo.id or 0,
        production_order_id=wo.production_order_id,
        reason=wo.rejection_reason or "",
    )
