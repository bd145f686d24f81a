"""The live plan's snapshot plus a planner's edits as a scheduling problem
(``activities.scenarios.build_problem``): pure, so checked by hand here."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from activities.scenarios import Centre, OpenOrder, Snapshot, Step, build_problem
from models.errors import InvalidInput
from models.scenarios import (
    CapacityEdit,
    DueDateEdit,
    FabricDelayEdit,
    FactoryDownEdit,
    OvertimeEdit,
    RushOrderEdit,
    WorkCentreDownEdit,
)
from optimizer.check import violations
from optimizer.cpsat import solve
from optimizer.problem import Assignment, Params

ORIGIN = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)


def centre(id: int, code: str, factory: str, kinds: list[str], down: bool = False) -> Centre:
    return Centre(id, code, factory, down, kinds, capacity=1, efficiency=0.5, cost_per_minute=0.1)


CENTRES = [
    centre(1, "A-CUT", "A", ["cut"]),
    centre(2, "A-SEW", "A", ["sew"]),
    centre(3, "B-CUT", "B", ["cut"]),
    centre(4, "B-SEW", "B", ["sew"]),
]
ROUTING = [(1, "cut", 30.0, 0.5), (2, "sew", 20.0, 5.0)]


def order(id: int, cut: str = "open", sew: str = "open", due_h: float = 48) -> OpenOrder:
    return OpenOrder(
        id=id,
        style="TS",
        colour="white",
        quantity=100,
        due=ORIGIN + due_h * H,
        weight=1.0,
        steps=[
            Step(1, "cut", 30.0, 0.5, (1, ORIGIN - 2 * H, ORIGIN + 2 * H), cut),
            Step(2, "sew", 20.0, 5.0, (2, ORIGIN + 14 * H, ORIGIN + 31 * H), sew),
        ],
    )


def snapshot(*orders: OpenOrder, centres: list[Centre] | None = None) -> Snapshot:
    return Snapshot(ORIGIN, 3, 7, centres or CENTRES, list(orders), {"TS": ROUTING})


def test_open_steps_get_every_eligible_centre_and_the_live_plan_as_previous() -> None:
    built = build_problem(snapshot(order(1)), [])
    (o,) = built.real.orders
    assert o.id == "1" and built.seqs["1"] == [1, 2]
    # setup + 100 x standard / efficiency 0.5: cut 30 + 100 = 130, sew 20 + 1000 = 1020
    assert [(m.work_centre, m.minutes) for m in o.operations[0].modes] == [
        ("A-CUT", 130),
        ("B-CUT", 130),
    ]
    assert o.operations[1].modes[0].minutes == 1020
    assert o.due == 48 * 60
    # On the solver's clock, the work centre the live plan has the cut on takes its live
    # span, so that keeping the live plan is a plan there too.
    (solving,) = built.problem.orders
    assert [m.minutes for m in solving.operations[0].modes] == [240, 130]
    # The cut began two hours ago: the previous plan has it from now, as long as planned.
    assert [(a.seq, a.work_centre, a.start, a.end) for a in built.problem.previous] == [
        (0, "A-CUT", 0, 240),
        (1, "A-SEW", 14 * 60, 31 * 60),
    ]
    assert not built.problem.frozen


def test_a_claimed_step_is_frozen_and_a_done_one_is_left_out() -> None:
    running = build_problem(snapshot(order(1, cut="running")), [])
    (frozen,) = running.problem.frozen
    assert (frozen.seq, frozen.work_centre, frozen.start, frozen.end) == (0, "A-CUT", 0, 120)
    assert running.problem.orders[0].release == 0
    done = build_problem(snapshot(order(1, cut="done")), [])
    (o,) = done.problem.orders
    assert [op.name for op in o.operations] == ["sew"] and done.seqs["1"] == [2]
    assert o.release == 120  # the cut's planned end


def test_a_step_being_made_up_is_planned_for_its_shortfall_only() -> None:
    cut, sew = order(1).steps
    recut = OpenOrder(1, "TS", "white", 100, ORIGIN + 48 * H, 1.0, [replace(cut, quantity=20), sew])
    (o,) = build_problem(snapshot(recut), []).real.orders
    # cut: 30 + 20 x 0.5 / 0.5 = 50 minutes, not the whole order's 130; sew stays whole
    assert [m.minutes for m in o.operations[0].modes] == [50, 50]
    assert o.operations[1].modes[0].minutes == 1020


def test_a_factory_down_closes_its_centres_for_the_period_only() -> None:
    edit = FactoryDownEdit(factory="A", start=ORIGIN + H, end=ORIGIN + 25 * H)
    built = build_problem(snapshot(order(1)), [edit])
    closed = {w.id: w.closed for w in built.problem.work_centres}
    assert closed["A-CUT"][0] == (60, 25 * 60)
    assert closed["B-CUT"] == []
    plan = solve(built.problem, Params(time_limit_s=5))
    assert violations(built.problem, plan) == []
    for a in plan.assignments:
        if a.work_centre.startswith("A-"):
            assert a.end <= 60 or a.start >= 25 * 60


def test_a_factory_marked_down_is_no_option_for_open_steps() -> None:
    centres = [*CENTRES[:2], centre(3, "B-CUT", "B", ["cut"], down=True), CENTRES[3]]
    built = build_problem(snapshot(order(1), centres=centres), [])
    assert [m.work_centre for m in built.problem.orders[0].operations[0].modes] == ["A-CUT"]


def test_capacity_due_date_fabric_and_rush_edits() -> None:
    edits = [
        CapacityEdit(work_centre="B-SEW", capacity=2, efficiency=1.0),
        DueDateEdit(production_order_id=1, due=ORIGIN + 10 * H, weight=5),
        FabricDelayEdit(production_order_id=2, until=ORIGIN + 30 * H),
        RushOrderEdit(style="TS", quantity=50, due=ORIGIN + 20 * H),
    ]
    built = build_problem(snapshot(order(1), order(2)), edits)
    by_id = {o.id: o for o in built.problem.orders}
    assert (by_id["1"].due, by_id["1"].weight) == (600, 5)
    assert by_id["2"].release == 30 * 60
    assert by_id["rush-1"].due == 20 * 60 and built.seqs["rush-1"] == [1, 2]
    sew_b = {m.work_centre: m.minutes for m in by_id["1"].operations[1].modes}
    assert sew_b == {"A-SEW": 1020, "B-SEW": 520}
    assert {w.id: w.capacity for w in built.problem.work_centres}["B-SEW"] == 2


@pytest.mark.parametrize(
    ("edit", "says"),
    [
        (FactoryDownEdit(factory="Z", start=ORIGIN, end=ORIGIN + H), "unknown factory 'Z'"),
        (WorkCentreDownEdit(work_centre="Z-1", start=ORIGIN, end=ORIGIN + H), "'Z-1'"),
        (DueDateEdit(production_order_id=9, weight=2), "production order 9"),
        (RushOrderEdit(style="NOPE", quantity=5, due=ORIGIN), "unknown style 'NOPE'"),
        (OvertimeEdit(factory="Z", start=ORIGIN, end=ORIGIN + H), "unknown factory 'Z'"),
    ],
)
def test_an_edit_that_cannot_be_planned_is_refused_by_its_index(edit: object, says: str) -> None:
    with pytest.raises(InvalidInput, match=says) as err:
        build_problem(
            snapshot(order(1)), [FactoryDownEdit(factory="A", start=ORIGIN, end=ORIGIN + H), edit]
        )
    assert err.value.field == "edits[1]"


def test_the_solver_sees_a_one_shift_factory_as_slower_and_plans_are_timed_on_its_calendar() -> (
    None
):
    """Factory A works two shifts a day, B one: on the solver's clock a minute of work at B
    takes three, and twice A's; the real problem keeps the working minutes and the calendars, and a
    plan timed on it pauses over B's nights."""
    day = 24 * 60
    two_shifts = [(d * day + 16 * 60, (d + 1) * day) for d in range(15)]
    one_shift = [(d * day + 8 * 60, (d + 1) * day) for d in range(15)]
    calendars = {"A-CUT": two_shifts, "A-SEW": two_shifts, "B-CUT": one_shift, "B-SEW": one_shift}
    base = snapshot(order(1))
    built = build_problem(
        Snapshot(ORIGIN, 3, 7, CENTRES, base.orders, {"TS": ROUTING}, calendars), []
    )
    cut = built.problem.orders[0].operations[0]
    # A-CUT has the live plan's span (four hours); B-CUT 130 minutes over a third.
    assert [(m.work_centre, m.minutes) for m in cut.modes] == [("A-CUT", 240), ("B-CUT", 390)]
    sew = built.problem.orders[0].operations[1]
    assert [(m.work_centre, m.minutes) for m in sew.modes] == [("A-SEW", 1020), ("B-SEW", 3060)]
    real_cut = built.real.orders[0].operations[0]
    assert [m.minutes for m in real_cut.modes] == [130, 130]
    assert {w.id: w.closed for w in built.real.work_centres}["B-CUT"] == one_shift
    sew_at_b = Assignment(order="1", seq=1, work_centre="B-SEW", start=0, end=2040)
    cut_at_b = Assignment(order="1", seq=0, work_centre="B-CUT", start=0, end=390)
    timed_cut, timed_sew = built.timed([cut_at_b, sew_at_b])
    assert (timed_cut.start, timed_cut.end) == (0, 130)
    # 1020 minutes of sewing from minute 130: 350 on day one, 480 on day two, 190 on day 3.
    assert (timed_sew.start, timed_sew.end) == (130, 2 * day + 190)


def test_overtime_opens_its_factorys_nights_for_the_timing_and_not_the_others() -> None:
    day = 24 * 60
    nights = [(d * day + 8 * 60, (d + 1) * day) for d in range(15)]  # open 08:00-16:00 UTC
    calendars = {c.code: nights for c in CENTRES}
    base = snapshot(order(1))
    extra = OvertimeEdit(factory="B", start=ORIGIN + 8 * H, end=ORIGIN + 12 * H)
    built = build_problem(
        Snapshot(ORIGIN, 3, 7, CENTRES, base.orders, {"TS": ROUTING}, calendars), [extra]
    )
    closed = {w.id: w.closed for w in built.real.work_centres}
    # ORIGIN is 08:00 (minute 0 at the origin): the first night is 16:00-08:00 UTC, minutes
    # 480 to 1440; overtime 16:00-20:00 opens 480-720 at B only.
    assert closed["B-CUT"][0] == (720, 1440)
    assert closed["A-CUT"][0] == (480, 1440)
    sew_at_b = Assignment(order="1", seq=1, work_centre="B-SEW", start=0, end=1020)
    cut_at_b = Assignment(order="1", seq=0, work_centre="B-CUT", start=0, end=130)
    _, sew = built.timed([cut_at_b, sew_at_b])
    # 1020 minutes from 130: 590 today (to 20:00 with the overtime), 430 tomorrow from 08:00.
    assert (sew.start, sew.end) == (130, 1440 + 430)
