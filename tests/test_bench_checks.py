"""The benchmarks' checks and workloads: the orchestration benchmark's duplicate check finds
what it claims to find and splits orders into batches as asked; the history benchmark's
history is history to the reads it times."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from activities.base import add_event
from activities.production import _busy_minutes
from activities.scenarios import live_slots
from api.planned import planned_finishes
from bench.history import SLOTS_PER_ORDER, History
from bench.orchestration import STYLE_COLOURS, batch_sizes, duplicates
from models.schemas import PlanStatus, ProductionOrderStatus
from models.tables import Plan, PlanAssignment
from tests.factories import make_order, make_work_order


def test_the_duplicate_check_counts_a_second_work_order_and_a_repeated_event(
    session: Session, team_id: int
) -> None:
    order = make_order(session, team_id)
    first = make_work_order(session, order, seq=1)
    make_work_order(session, order, seq=2)
    add_event(session, "work_order", first.id or 0, "released")
    session.commit()
    assert duplicates(session) == dict.fromkeys(
        ("work_orders", "work_order_events", "reservations", "shipments"), 0
    )

    make_work_order(session, order, seq=1, attempt=2)  # a second work order of operation 1
    add_event(session, "work_order", first.id or 0, "released")  # released twice
    session.commit()
    found = duplicates(session)
    assert (found["work_orders"], found["work_order_events"]) == (1, 1)


def test_orders_go_into_batches_of_the_size_asked_the_last_one_the_rest() -> None:
    assert batch_sizes(7, 3) == [3, 3, 1]
    assert batch_sizes(6, 3) == [3, 3]
    assert batch_sizes(4, 1) == [1, 1, 1, 1]
    with pytest.raises(ValueError, match=f"1 to {len(STYLE_COLOURS)}"):
        batch_sizes(10, len(STYLE_COLOURS) + 1)


@pytest.mark.parametrize("closed_in", ["superseded", "live"])
def test_the_history_benchmark_lays_out_history_the_reads_leave_out(
    session: Session, engine: sa.Engine, closed_in: str
) -> None:
    """bench/history.py: the open orders' slots are what the reads find, whatever number
    of shipped orders' slots lies in a superseded plan or (as before) in the live one."""
    history = History(engine, seed=1, closed_in=closed_in)
    history.add(20, ProductionOrderStatus.IN_PRODUCTION)
    history.add(100, ProductionOrderStatus.DONE)
    plan = session.get(Plan, history.plan_id)
    assert plan is not None and plan.status == PlanStatus.LIVE
    in_plan = session.exec(select(PlanAssignment).where(PlanAssignment.plan_id == plan.id)).all()
    assert len(in_plan) == (120 if closed_in == "live" else 20) * SLOTS_PER_ORDER
    assert len(session.exec(select(PlanAssignment)).all()) == 120 * SLOTS_PER_ORDER

    assert len(live_slots(session, plan)) == 20 * SLOTS_PER_ORDER
    assert len(planned_finishes(session)) == 20
    ahead = _busy_minutes(session, plan, datetime.now(UTC))
    assert sum(len(slots) for slots in ahead.values()) == 20 * SLOTS_PER_ORDER
