"""The live plan's reads go through the live plan's index, never over every plan slot:
the plans that scenarios superseded keep the slots of every order ever planned, and a
read that walks them grows with history (bench/history.py measures it). Checked on the
statements the real functions send, by SQLite's query plans, which it makes without row
statistics (nothing runs ANALYZE), as it does in production."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from activities.production import _busy_minutes
from activities.scenarios import live_slots
from api.planned import planned_finishes
from api.routers.planner_page import live_plan
from bench.history import History
from models.schemas import PlanStatus, ProductionOrderStatus
from models.tables import Plan
from tests.conftest import in_one_pass


@pytest.fixture
def plan(session: Session, engine: sa.Engine, db_url: str) -> Plan:
    """The live plan with a few open orders' slots; shipped ones' in a superseded plan."""
    in_one_pass(db_url, "sqlite", "SQLite's query plans; PostgreSQL plans by its statistics")
    history = History(engine, seed=1)
    history.add(3, ProductionOrderStatus.IN_PRODUCTION)
    history.add(30, ProductionOrderStatus.DONE)
    return session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()


def slot_reads(engine: sa.Engine, call: Callable[[], Any]) -> list[str]:
    """SQLite's plan of each SELECT of plan slots that ``call`` sends, one line each."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "plan_assignment" in statement:
            sent.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    assert sent, "no read of plan slots was sent"
    with engine.connect() as conn:
        return [
            " / ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {s}", p))
            for s, p in sent
        ]


def test_a_placement_reads_only_the_slots_still_ahead(
    session: Session, engine: sa.Engine, plan: Plan
) -> None:
    [read] = slot_reads(engine, lambda: _busy_minutes(session, plan, datetime.now(UTC)))
    assert "USING INDEX ix_plan_assignment_plan_end (plan_id=? AND end>?)" in read, read


@pytest.mark.parametrize("reader", ["scenario snapshot", "planner page", "order lists"])
def test_the_open_orders_slots_are_read_through_the_live_plans_index(
    session: Session, engine: sa.Engine, plan: Plan, reader: str
) -> None:
    call = {
        "scenario snapshot": lambda: live_slots(session, plan),
        "planner page": lambda: live_plan(session),
        "order lists": lambda: planned_finishes(session),
    }[reader]
    [read] = slot_reads(engine, call)
    assert "SEARCH plan_assignment USING INDEX ix_plan_assignment_plan_end (plan_id=?)" in read
    assert "SCAN plan_assignment" not in read, read
