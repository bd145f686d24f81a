from __future__ import annotations

from optimizer.placement import (
    OperationToPlace,
    PlacementProblem,
    WorkCentreSlot,
    duration_minutes,
    earliest_slot,
    place_order,
)


def wc(wc_id: int, factory: int, efficiency: float = 1.0, busy=None) -> WorkCentreSlot:  # type: ignore[no-untyped-def]
    return WorkCentreSlot(
        work_centre_id=wc_id, factory_id=factory, efficiency=efficiency, busy=busy or []
    )


def op(seq: int, kind: str, eligible: list[WorkCentreSlot], qty: int = 10) -> OperationToPlace:
    return OperationToPlace(
        seq=seq,
        operation_kind=kind,
        quantity=qty,
        setup_minutes=10,
        standard_minutes=2,
        eligible=eligible,
    )


def test_duration_is_setup_plus_quantity_times_minutes_over_efficiency() -> None:
    assert duration_minutes(op(1, "sew", [wc(1, 1)]), wc(1, 1, efficiency=0.5)) == 10 + 40


def test_the_earliest_slot_fits_into_a_gap_between_busy_intervals() -> None:
    busy = [(0, 10), (30, 50)]
    assert earliest_slot(busy, [], 0, 20) == (10, 30)  # fits exactly in [10, 30)
    assert earliest_slot(busy, [], 0, 21) == (50, 71)  # does not fit, goes after
    assert earliest_slot(busy, [], 55, 5) == (55, 60)


def test_operations_follow_routing_order_without_overlap() -> None:
    cut, sew = wc(1, 1, busy=[(0, 100)]), wc(2, 1)
    plan = place_order(
        PlacementProblem(release_minute=0, operations=[op(2, "sew", [sew]), op(1, "cut", [cut])])
    )
    assert [p.seq for p in plan] == [1, 2]
    assert plan[0].start == 100 and plan[0].end == 130  # after the busy block
    assert plan[1].start == plan[0].end  # precedence, same factory: no transfer


def test_the_work_centre_that_finishes_first_wins_and_transfers_cost_time() -> None:
    cut = wc(1, factory=1)
    slow_home = wc(2, factory=1, efficiency=0.25)  # 10 + 80 = 90 minutes
    fast_away = wc(3, factory=2, efficiency=1.0)  # 10 + 20 = 30 minutes, after a 40 min transfer
    plan = place_order(
        PlacementProblem(
            release_minute=0,
            transfer_minutes=40,
            operations=[op(1, "cut", [cut]), op(2, "sew", [slow_home, fast_away])],
        )
    )
    assert plan[0].end == 30
    assert plan[1].work_centre_id == 3
    assert plan[1].start == 30 + 40 and plan[1].end == 100


NIGHTS = [(0, 480), (1020, 1920), (2460, 3360)]  # open 8:00-17:00, three days


def test_an_operation_pauses_overnight_and_never_starts_in_closed_time() -> None:
    sew = WorkCentreSlot(work_centre_id=1, factory_id=1, efficiency=1.0, closed=NIGHTS)
    # 10 + 300 x 2 = 610 minutes of work, ready at 15:00 on day one (minute 900).
    [placed] = place_order(
        PlacementProblem(release_minute=900, operations=[op(1, "sew", [sew], qty=300)])
    )
    assert placed.start == 900
    assert placed.end == 1920 + 610 - 120  # 120 minutes on day one, the rest from 8:00


def test_busy_time_after_the_night_pushes_the_whole_slot_behind_it() -> None:
    busy = [(1920, 2000)]  # the line's next morning is taken until 9:20
    start, end = earliest_slot(busy, NIGHTS, 900, 200)
    # From 15:00 it would run into the busy morning: it waits for 9:20 and ends at 12:40.
    assert (start, end) == (2000, 2200)
    assert earliest_slot(busy, NIGHTS, 900, 120) == (900, 1020)  # fits before the night


def test_the_faster_work_centre_wins_on_the_clock_not_on_its_minutes() -> None:
    # Line 1 is quicker but closed at night; line 2 is slower and works around the clock.
    day_only = WorkCentreSlot(work_centre_id=1, factory_id=1, efficiency=1.0, closed=NIGHTS)
    always = WorkCentreSlot(work_centre_id=2, factory_id=1, efficiency=0.8)
    [placed] = place_order(
        PlacementProblem(release_minute=960, operations=[op(1, "sew", [day_only, always], qty=100)])
    )
    # 210 minutes on line 1 ends at 9:30 the next day (1920 + 150); line 2 needs 260 minutes.
    assert (placed.work_centre_id, placed.start, placed.end) == (2, 960, 960 + 10 + 250)
