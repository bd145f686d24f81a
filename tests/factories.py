"""Builders for test data on top of the seeded demo master data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from models.schemas import PlanStatus, WorkOrderStatus
from models.tables import (
    DemandBatch,
    DemandLine,
    Factory,
    Plan,
    PlanAssignment,
    ProductionOrder,
    WorkCentre,
    WorkOrder,
)


def need_by(days: int = 21) -> date:
    return (datetime.now(UTC) + timedelta(days=days)).date()


def make_batch(
    session: Session, team_id: int, lines: list[dict[str, Any]] | None = None
) -> DemandBatch:
    """A batch with lines; each line dict overrides a crew-neck tee, white, size M, 10 pcs."""
    lines = lines or [{}]
    batch = DemandBatch(team_id=team_id, line_count=len(lines))
    session.add(batch)
    session.flush()
    assert batch.id is not None
    batch.workflow_id = f"demand-batch-{batch.id}"
    for i, overrides in enumerate(lines, start=1):
        fields: dict[str, Any] = {
            "customer_ref": f"C-{i}",
            "style_code": "TS-CREW",
            "colour": "white",
            "size": "M",
            "quantity": 10,
            "need_by": need_by(),
            "channel": "web",
            "region": "EU",
            **overrides,
        }
        session.add(DemandLine(batch_id=batch.id, line_no=i + 1, **fields))
    session.commit()
    return batch


def make_order(session: Session, team_id: int, **overrides: Any) -> ProductionOrder:
    batch = make_batch(session, team_id)
    fields: dict[str, Any] = {
        "batch_id": batch.id,
        "team_id": team_id,
        "style_code": "TS-CREW",
        "colour": "white",
        "size_breakdown": {"S": 20, "M": 40, "L": 20},
        "quantity": 80,
        **overrides,
    }
    order = ProductionOrder(**fields)
    session.add(order)
    session.commit()
    return order


def make_work_order(
    session: Session, order: ProductionOrder, work_centre_code: str = "GZ-CUT-1", **overrides: Any
) -> WorkOrder:
    """A work order of ``order`` at the given work centre (released unless overridden)."""
    centre = session.exec(select(WorkCentre).where(WorkCentre.code == work_centre_code)).one()
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "production_order_id": order.id,
        "seq": 1,
        "operation_kind": "cut",
        "factory_id": centre.factory_id,
        "work_centre_id": centre.id,
        "quantity": order.quantity,
        "size_breakdown": dict(order.size_breakdown),
        "planned_start": now,
        "planned_end": now + timedelta(hours=2),
        "status": WorkOrderStatus.RELEASED,
        **overrides,
    }
    wo = WorkOrder(**fields)
    session.add(wo)
    session.commit()
    return wo


def short_shifts_everywhere(session: Session) -> None:
    """Every factory works four two-hour shifts a day (UTC), so that whenever the test runs
    an operation of a few hours meets closed time."""
    shifts = [
        {"weekdays": list(range(1, 8)), "start": f"{h:02d}:00:00", "end": f"{h + 2:02d}:00:00"}
        for h in (0, 6, 12, 18)
    ]
    for factory in session.exec(select(Factory)).all():
        factory.shifts, factory.timezone, factory.holidays = shifts, "UTC", []
        session.add(factory)
    session.commit()


def slots_outside_shifts(session: Session) -> list[str]:
    """The live plan's slots that start, or end their last minute, in their factory's
    closed time (superseded plans' slots are not work any more)."""
    from activities.production import factory_closed_time
    from optimizer.calendar import next_open

    session.expire_all()
    origin = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)
    closed = factory_closed_time(session, origin)
    factory_of = {wc.id: wc.factory_id for wc in session.exec(select(WorkCentre)).all()}
    wrong = []
    live = session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
    for slot in session.exec(select(PlanAssignment).where(PlanAssignment.plan_id == live.id)):
        shut = closed[factory_of[slot.work_centre_id]]
        start, end = (int((t - origin).total_seconds() // 60) for t in (slot.start, slot.end))
        if next_open(shut, start) != start or next_open(shut, end - 1) != end - 1:
            wrong.append(f"order {slot.production_order_id} op {slot.seq}: {slot.start}-{slot.end}")
    return wrong
