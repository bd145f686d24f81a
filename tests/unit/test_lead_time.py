"""Chain lead time from an order's trail: milestones, stage hours, hand-offs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from models.lead_time import TrailEvent, lead_time

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def test_an_order_cut_in_one_factory_and_sewn_in_another() -> None:
    trail = [
        TrailEvent(at=at(30), entity="production_order", kind="fabric_reserved"),
        TrailEvent(at=at(31), entity="work_order", kind="started"),
        TrailEvent(at=at(35), entity="work_order", kind="completed", factory_id=1),
        TrailEvent(at=at(40), entity="work_order", kind="started"),
        TrailEvent(at=at(70), entity="work_order", kind="completed", factory_id=2),
        TrailEvent(at=at(80), entity="work_order", kind="completed", factory_id=2),
        TrailEvent(at=at(81), entity="production_order", kind="shipped"),
    ]
    result = lead_time(intake_at=T0, picked_at=at(24), trail=list(reversed(trail)))
    assert result.hours == {
        "intake_to_pick": 24.0,
        "pick_to_fabric_ready": 6.0,
        "fabric_ready_to_first_operation": 1.0,
        "first_operation_to_last_operation": 49.0,
        "last_operation_to_shipped": 1.0,
        "total": 81.0,
    }
    # customer -> team -> platform -> factory 1 -> factory 2 -> customer
    assert result.hand_offs == 5
    assert result.at["first_operation"] == at(31) and result.at["last_operation"] == at(80)


def test_a_purchase_adds_the_supplier_and_an_open_order_counts_to_where_it_is() -> None:
    trail = [
        TrailEvent(at=at(25), entity="production_order", kind="fabric_ordered"),
        TrailEvent(at=at(100), entity="production_order", kind="fabric_reserved"),
    ]
    result = lead_time(intake_at=T0, picked_at=at(24), trail=trail)
    assert result.at["first_operation"] is None and result.at["shipped"] is None
    assert result.hours == {"intake_to_pick": 24.0, "pick_to_fabric_ready": 76.0, "total": 100.0}
    assert result.hand_offs == 4  # customer -> team -> platform -> supplier -> platform


def test_a_factory_that_never_reports_a_start_starts_work_when_it_claims_it() -> None:
    """Starting is optional in the factory protocol: a factory may claim and complete.
    The first claim then marks the first operation, so the stages still add up to the
    total instead of losing the time on the floor."""
    trail = [
        TrailEvent(at=at(30), entity="production_order", kind="fabric_reserved"),
        TrailEvent(at=at(33), entity="work_order", kind="claimed", factory_id=1),
        TrailEvent(at=at(35), entity="work_order", kind="completed", factory_id=1),
        TrailEvent(at=at(36), entity="work_order", kind="claimed", factory_id=1),
        TrailEvent(at=at(40), entity="work_order", kind="completed", factory_id=1),
        TrailEvent(at=at(41), entity="production_order", kind="shipped"),
    ]
    result = lead_time(intake_at=T0, picked_at=at(24), trail=trail)
    assert result.at["first_operation"] == at(33)
    assert result.hours["fabric_ready_to_first_operation"] == 3.0
    assert result.hours["first_operation_to_last_operation"] == 7.0
    stages = sum(hours for stage, hours in result.hours.items() if stage != "total")
    assert stages == result.hours["total"] == 41.0


def test_a_start_reported_after_an_earlier_claim_still_marks_the_first_operation() -> None:
    """Where factories do report starts, the first start is the first operation, not the
    claim before it (work claimed a day ahead has not begun)."""
    trail = [
        TrailEvent(at=at(30), entity="production_order", kind="fabric_reserved"),
        TrailEvent(at=at(31), entity="work_order", kind="claimed", factory_id=1),
        TrailEvent(at=at(50), entity="work_order", kind="started", factory_id=1),
        TrailEvent(at=at(55), entity="work_order", kind="completed", factory_id=1),
    ]
    result = lead_time(intake_at=T0, picked_at=at(24), trail=trail)
    assert result.at["first_operation"] == at(50)
