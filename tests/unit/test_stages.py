"""An order's lead time stage by stage, from its status events (api/routers/orders.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.routers.orders import stages_of
from models.tables import Event

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def status(hours: float, kind: str, entity: str = "production_order") -> Event:
    return Event(at=T0 + timedelta(hours=hours), actor="t", entity=entity, entity_id=1, kind=kind)


def test_each_status_lasts_until_the_next_and_done_takes_no_time() -> None:
    events = [
        status(2, "status:awaiting_fabric"),
        status(50, "released", entity="work_order"),  # not the order's own status
        status(74, "status:fabric_reserved"),
        status(75, "status:in_production"),
        status(99, "status:done"),
    ]
    stages = stages_of(T0, events, now=T0 + timedelta(days=30))
    assert [(s.status.value, s.hours) for s in stages] == [
        ("created", 2.0),
        ("awaiting_fabric", 72.0),
        ("fabric_reserved", 1.0),
        ("in_production", 24.0),
        ("done", 0.0),
    ]


def test_the_current_stage_runs_until_now() -> None:
    stages = stages_of(T0, [status(1, "status:awaiting_design")], now=T0 + timedelta(hours=25))
    assert stages[-1].status.value == "awaiting_design"
    assert stages[-1].left_at is None and stages[-1].hours == 24.0
