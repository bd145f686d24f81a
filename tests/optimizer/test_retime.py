"""Timing a solver's plan on factory calendars: work pauses over closed time, every choice
of the solver (work centre, sequence) stays, and every invariant still holds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.calendar import merged, next_open, open_minutes
from optimizer.greedy import dispatch
from optimizer.problem import Assignment, Mode, Operation, Order, Params, Problem, WorkCentre
from optimizer.retime import retime
from tests.optimizer.test_scheduler import small_problems


def keeps_its_promises(
    problem: Problem,
    before: list[Assignment],
    after: list[Assignment],
    closed: dict[str, list[tuple[int, int]]],
) -> None:
    assert len(after) == len(before)
    was = {(a.order, a.seq, a.lot): a for a in before}
    now = {(a.order, a.seq, a.lot): a for a in after}
    orders = {o.id: o for o in problem.orders}
    factories = problem.factory_of()
    for key, a in now.items():
        shut = closed.get(a.work_centre, [])
        old = was[key]
        assert a.work_centre == old.work_centre
        assert next_open(shut, a.start) == a.start, f"{a} starts in closed time"
        assert open_minutes(shut, a.start, a.end) == old.end - old.start
        assert a.start >= orders[a.order].release
        previous = now.get((a.order, a.seq - 1, a.lot))
        if previous is not None:
            travel = problem.transfer(factories, previous.work_centre, a.work_centre)
            assert a.start >= previous.end + travel
    for centre in problem.work_centres:
        mine = [a for a in after if a.work_centre == centre.id]
        for a in mine:
            at_once = sum(1 for b in mine if b.start <= a.start < b.end)
            assert at_once <= centre.capacity
        if centre.capacity == 1:
            in_order = [k for k, _ in sorted(was.items(), key=lambda kv: kv[1].start)]
            sequence = [k for k in in_order if was[k].work_centre == centre.id]
            assert sequence == sorted(sequence, key=lambda k: now[k].start)


def on(problem: Problem, closed: dict[str, list[tuple[int, int]]]) -> Problem:
    """The problem with ``closed`` as its work centres' calendars (unchecked: a timed plan
    may run over them, which a solver's problem refuses)."""
    return problem.model_copy(
        update={
            "work_centres": [
                w.model_copy(update={"closed": closed.get(w.id, [])}) for w in problem.work_centres
            ]
        }
    )


nights = st.lists(st.tuples(st.integers(0, 400), st.integers(1, 60)), max_size=5).map(
    lambda cuts: merged([(a, a + n) for a, n in cuts])
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(), st.data())
def test_a_timed_plan_keeps_every_choice_and_invariant_on_any_calendar(
    problem: Problem, data: st.DataObject
) -> None:
    plan = dispatch(problem, Params(time_limit_s=1, workers=1))
    closed = {w.id: merged(w.closed, data.draw(nights)) for w in problem.work_centres}
    timed = retime(on(problem, closed), plan.assignments)
    keeps_its_promises(problem, plan.assignments, timed, closed)


def test_an_operation_runs_over_the_night_and_its_successor_waits_for_the_morning() -> None:
    # Open 0-480 and 960-1440 (two "days"); cut 300 min on C, then sew 400 min on S.
    problem = Problem(
        work_centres=[WorkCentre(id="C", factory="F"), WorkCentre(id="S", factory="F")],
        orders=[
            Order(
                id="o",
                operations=[
                    Operation(modes=[Mode(work_centre="C", minutes=300)]),
                    Operation(modes=[Mode(work_centre="S", minutes=400)]),
                ],
            )
        ],
    )
    solved = [
        Assignment(order="o", seq=0, work_centre="C", start=0, end=300),
        Assignment(order="o", seq=1, work_centre="S", start=300, end=700),
    ]
    night = [(480, 960)]
    cut, sew = retime(on(problem, {"C": night, "S": night}), solved)
    assert (cut.start, cut.end) == (0, 300)
    # 180 minutes before the night, the other 220 from 960.
    assert (sew.start, sew.end) == (300, 960 + 220)


def one_op_orders(*ops: tuple[str, str, int], **kw: object) -> Problem:
    """Orders of one operation each: (order, work centre, minutes), all in one factory."""
    centres = sorted({centre for _, centre, _ in ops})
    return Problem.model_validate(
        {
            "work_centres": [WorkCentre(id=c, factory="F") for c in centres],
            "orders": [
                Order(id=o, operations=[Operation(modes=[Mode(work_centre=c, minutes=m)])])
                for o, c, m in ops
            ],
            **kw,
        }
    )


def at(order: str, centre: str, start: int, end: int) -> Assignment:
    return Assignment(order=order, seq=0, work_centre=centre, start=start, end=end)


def test_frozen_work_keeps_its_time_and_the_next_on_its_centre_waits_for_it() -> None:
    problem = one_op_orders(
        ("a", "C", 100),
        ("b", "C", 50),
        frozen=[at("a", "C", 0, 100)],
    )
    solved = [at("a", "C", 0, 100), at("b", "C", 100, 150)]
    a, b = retime(on(problem, {"C": [(90, 200)]}), solved)
    assert (a.start, a.end) == (0, 100)  # as it runs on the floor
    assert (b.start, b.end) == (200, 250)


def test_an_operation_the_solver_kept_stays_where_the_previous_plan_has_it() -> None:
    """The order before it on its work centre moved away: timing closes the gap for new
    work, not for work the solver chose to keep (plan stability)."""
    problem = one_op_orders(
        ("a", "C", 100),
        ("b", "D", 100),
        previous=[at("b", "D", 300, 400)],
    )
    solved = [at("a", "C", 200, 300), at("b", "D", 300, 400)]
    a, b = retime(problem, solved)
    assert (a.start, a.end) == (0, 100)  # not kept: as early as it can
    assert (b.start, b.end) == (300, 400)  # kept
