"""The scheduler: CP-SAT against the greedy dispatcher, every plan through the one checker."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.calendar import closed_intervals
from optimizer.check import violations
from optimizer.cpsat import solve
from optimizer.explain import late_orders
from optimizer.greedy import best_dispatch, dispatch, most_work_remaining
from optimizer.instances import makespan_params, read_fjsp, read_instance, read_jssp
from optimizer.problem import (
    Assignment,
    Mode,
    Operation,
    Order,
    Params,
    Plan,
    Problem,
    Progress,
    SolveStatus,
    Weights,
    WorkCentre,
)

# Public instances, copied from ../shared/benchmarks (see bench/instances/README.md).
BENCHMARKS = Path(__file__).resolve().parents[2] / "bench" / "instances"


def one_op(order_id: str, centre: str, minutes: int, **kw: object) -> Order:
    return Order(
        id=order_id,
        operations=[Operation(modes=[Mode(work_centre=centre, minutes=minutes)])],
        **kw,  # type: ignore[arg-type]
    )


def valid(problem: Problem, plan: Plan) -> Plan:
    assert violations(problem, plan) == []
    return plan


def test_cpsat_beats_earliest_due_date_where_the_weights_say_so() -> None:
    # By hand: one machine, two 10-minute jobs. EDD runs A (due 10) first and B (due 15,
    # weight 3) ends at 20: 5 min late x 3 = 15. B first: A ends at 20, 10 min late x 1 = 10.
    problem = Problem(
        work_centres=[WorkCentre(id="M")],
        orders=[one_op("A", "M", 10, due=10, weight=1), one_op("B", "M", 10, due=15, weight=3)],
    )
    greedy = valid(problem, dispatch(problem))
    assert greedy.objective == 15 and greedy.status == SolveStatus.GREEDY
    plan = valid(problem, solve(problem, Params(time_limit_s=5)))
    assert plan.status == SolveStatus.OPTIMAL
    assert plan.objective == 10 and plan.best_bound == 10 and plan.gap == 0
    assert [a.order for a in plan.assignments] == ["B", "A"]
    assert plan.kpis.on_time_pct == 50.0 and plan.kpis.max_tardiness == 10


def test_releases_capacity_and_a_choice_of_work_centres() -> None:
    # Two parallel lines of capacity 1 and one line of capacity 2: four 30-minute jobs
    # released at 5 finish by 35 on the capacity-2 line plus one other, never before 5.
    problem = Problem(
        work_centres=[WorkCentre(id="L1"), WorkCentre(id="BIG", capacity=2)],
        orders=[
            Order(
                id=f"o{i}",
                release=5,
                due=35,
                operations=[
                    Operation(
                        modes=[
                            Mode(work_centre="L1", minutes=30),
                            Mode(work_centre="BIG", minutes=30),
                        ]
                    )
                ],
            )
            for i in range(3)
        ],
    )
    plan = valid(problem, solve(problem, Params(time_limit_s=5)))
    assert plan.objective == 0 and plan.kpis.makespan == 35
    assert all(a.start >= 5 for a in plan.assignments)


def test_the_checker_finds_what_is_wrong() -> None:
    problem = Problem(
        work_centres=[WorkCentre(id="M")],
        orders=[
            Order(
                id="A",
                release=10,
                operations=[
                    Operation(modes=[Mode(work_centre="M", minutes=5)]),
                    Operation(modes=[Mode(work_centre="M", minutes=5)]),
                ],
            ),
            one_op("B", "M", 5),
        ],
    )
    plan = dispatch(problem).model_copy(
        update={
            "assignments": [
                Assignment(order="A", seq=0, work_centre="M", start=0, end=5),  # before release
                Assignment(order="A", seq=1, work_centre="M", start=3, end=9),  # overlaps, 6 min
                Assignment(order="B", seq=0, work_centre="X", start=20, end=25),  # not eligible
            ]
        }
    )
    found = "\n".join(violations(problem, plan))
    assert "before its release" in found
    assert "before the previous operation ends" in found
    assert "lasts 6 min" in found
    assert "X is not eligible" in found
    assert "M runs 2 operations" in found


@st.composite
def small_problems(draw: st.DrawFn) -> Problem:
    centres = [f"w{i}" for i in range(draw(st.integers(1, 3)))]
    orders = []
    for j in range(draw(st.integers(1, 4))):
        ops = []
        for _ in range(draw(st.integers(1, 3))):
            eligible = draw(st.lists(st.sampled_from(centres), min_size=1, unique=True))
            ops.append(
                Operation(
                    modes=[Mode(work_centre=c, minutes=draw(st.integers(1, 20))) for c in eligible]
                )
            )
        orders.append(
            Order(
                id=f"o{j}",
                operations=ops,
                release=draw(st.integers(0, 30)),
                due=draw(st.integers(0, 80)),
                weight=draw(st.integers(0, 3)),
                family=draw(st.sampled_from(["", "red", "blue"])),
            )
        )
    # Some centres keep a calendar (open stretches of 30 and 40 min, ops last at most 20),
    # centres sit in one of two factories, changing factory may cost a transfer, and some
    # lines change over between colours.
    shut = [(30, 60), (100, 150)]
    return Problem(
        work_centres=[
            WorkCentre(
                id=c,
                capacity=draw(st.integers(1, 2)),
                factory=draw(st.sampled_from(["F1", "F2"])),
                closed=shut if draw(st.booleans()) else [],
                cost_per_minute=draw(st.sampled_from([0, 1, 2.5])),
                changeover_minutes=draw(st.sampled_from([0, 0, 7])),
            )
            for c in centres
        ],
        orders=orders,
        transfer_minutes=draw(st.sampled_from([0, 0, 15])),
        transfer_cost=draw(st.sampled_from([0, 40])),
    )


@st.composite
def weights(draw: st.DrawFn) -> Weights:
    pick = st.sampled_from([0, 0, 0.5, 1, 2])
    return Weights(
        weighted_tardiness=draw(pick),
        makespan=draw(pick),
        lead_time=draw(pick),
        cost=draw(pick),
        changeovers=draw(st.sampled_from([0, 10])),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(), weights())
def test_every_plan_keeps_the_invariants_and_cpsat_is_never_worse(
    problem: Problem, w: Weights
) -> None:
    params = Params(time_limit_s=2, workers=1, weights=w)
    greedy = valid(problem, dispatch(problem, params))
    # The operation-by-operation list scheduler keeps them too (frozen work, previous
    # plan, calendars, changeovers and transfers included).
    valid(problem, dispatch(problem, params, most_work_remaining, interleave=True))
    plan = valid(problem, solve(problem, params))
    assert plan.objective <= greedy.objective
    assert plan.best_bound <= plan.objective + 1e-6
    # The objective is the weighted sum of the reported terms.
    assert plan.objective == pytest.approx(
        sum(getattr(w, name) * value for name, value in plan.terms.items())
    )


def test_ft06_reaches_its_optimum_through_the_same_model() -> None:
    problem = read_instance(BENCHMARKS / "jssp" / "ft06.txt", "jssp")
    plan = valid(problem, solve(problem, makespan_params(time_limit_s=20, workers=2)))
    assert plan.kpis.makespan == 55 and plan.status == SolveStatus.OPTIMAL


def test_mk01_reads_and_solves_as_a_flexible_job_shop() -> None:
    problem = read_instance(BENCHMARKS / "fjsp" / "mk01.fjs", "fjsp")
    assert len(problem.orders) == 10 and len(problem.work_centres) == 6
    greedy = valid(problem, dispatch(problem, makespan_params(5, 2)))
    plan = valid(problem, solve(problem, makespan_params(time_limit_s=5, workers=2)))
    assert 40 <= plan.kpis.makespan <= greedy.kpis.makespan  # 40 is mk01's optimum


def test_progress_is_reported_and_a_stop_returns_the_best_plan_so_far() -> None:
    problem = read_instance(BENCHMARKS / "jssp" / "la21.txt", "jssp")
    heard: list[Progress] = []
    stop = threading.Event()
    threading.Timer(2.5, stop.set).start()
    started = time.monotonic()
    plan = solve(problem, makespan_params(time_limit_s=60, workers=2), heard.append, stop)
    assert time.monotonic() - started < 10
    valid(problem, plan)
    assert len(heard) >= 2 and heard[-1].objective is not None
    assert plan.kpis.makespan <= dispatch(problem, makespan_params(1, 1)).kpis.makespan


def test_the_first_report_is_the_dispatchers_plan_before_any_search() -> None:
    """A planner sees the best plan so far from the start: the dispatcher's, which is what
    a stop would return, not "no plan" until CP-SAT's first solution."""
    problem = read_instance(BENCHMARKS / "jssp" / "ft06.txt", "jssp")
    params = makespan_params(time_limit_s=5, workers=2)
    heard: list[Progress] = []
    solve(problem, params, heard.append)
    first = heard[0]
    assert (first.objective, first.solutions) == (best_dispatch(problem, params).objective, 0)


def test_a_start_the_caller_made_is_where_the_search_starts_and_never_worse() -> None:
    """A caller that has the dispatcher's plan already (a scenario reports it too) hands it
    over instead of having it made twice; here a worse one, to see it is the one used."""
    problem = read_instance(BENCHMARKS / "jssp" / "ft06.txt", "jssp")
    params = makespan_params(time_limit_s=2, workers=2)
    start = dispatch(problem, params, most_work_remaining)
    assert start.objective != best_dispatch(problem, params).objective
    heard: list[Progress] = []
    plan = solve(problem, params, heard.append, start=start)
    assert heard[0].objective == start.objective
    assert valid(problem, plan).objective <= start.objective


@pytest.mark.parametrize(
    ("text", "message"),
    [("2 2\n0 3 1 x", "not a list of integers"), ("2 2\n0 3 1 2", "needs 10")],
)
def test_a_broken_jssp_file_is_named_in_the_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_jssp(text, "broken.txt")


def test_a_truncated_fjsp_file_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="broken.fjs: ends in the middle of job 1"):
        read_fjsp("2 2 1\n1 1 1 5\n2 1 1", "broken.fjs")


def test_interleaving_operations_keeps_a_job_shop_busy() -> None:
    """On ft06 (optimum 55), whole orders one after another by most work remaining take
    67; the same rule operation by operation, 61; the scheduler starts from the best."""
    problem = read_instance(BENCHMARKS / "jssp" / "ft06.txt", "jssp")
    params = makespan_params(time_limit_s=1, workers=1)
    whole = valid(problem, dispatch(problem, params, most_work_remaining))
    interleaved = valid(problem, dispatch(problem, params, most_work_remaining, interleave=True))
    assert (whole.kpis.makespan, interleaved.kpis.makespan) == (67, 61)
    assert best_dispatch(problem, params).kpis.makespan <= 61


def test_the_dispatcher_fills_an_idle_gap_that_is_long_enough() -> None:
    # B (due 20) waits for A's first step on M1, so M2 idles until 10. C (due 30) is a
    # 5-minute job on M2 released at 0: it fits before B's step, not after it.
    problem = Problem(
        work_centres=[WorkCentre(id="M1"), WorkCentre(id="M2")],
        orders=[
            Order(
                id="B",
                due=20,
                operations=[
                    Operation(modes=[Mode(work_centre="M1", minutes=10)]),
                    Operation(modes=[Mode(work_centre="M2", minutes=10)]),
                ],
            ),
            one_op("C", "M2", 5, due=30),
        ],
    )
    plan = valid(problem, dispatch(problem))
    c = next(a for a in plan.assignments if a.order == "C")
    assert (c.start, c.end) == (0, 5) and plan.kpis.makespan == 20


def test_a_late_order_says_what_held_it_back_in_terms_a_person_can_check() -> None:
    # The example above: B goes first on M, so A (due 10) ends at 20, 10 minutes late,
    # because M was busy with B, which started at its release. D, released at 50 with
    # 10 minutes of work and due at 55, cannot be on time whatever the plan.
    problem = Problem(
        work_centres=[WorkCentre(id="M"), WorkCentre(id="N")],
        orders=[
            one_op("A", "M", 10, due=10, weight=1),
            one_op("B", "M", 10, due=15, weight=3),
            one_op("D", "N", 10, release=50, due=55),
        ],
    )
    plan = valid(problem, solve(problem, Params(time_limit_s=5)))
    late = {lo.order: lo for lo in plan.late_orders}
    assert sorted(late) == ["A", "D"]
    assert (late["A"].finish, late["A"].tardiness) == (20, 10)
    assert late["A"].reasons == [
        "order A operation 0 on M starts at 10, when M is free of order B operation 0",
        "order B operation 0 on M starts at 0: the order's release",
    ]
    assert late["D"].reasons == [
        "it cannot be on time: 10 min of work from its release at 50 ends at 60 at the earliest",
        "order D operation 0 on N starts at 50: the order's release",
    ]


def test_a_changeover_is_named_when_it_makes_an_order_late() -> None:
    # By hand: a red order of 10 min (due 10, weight 5) and a blue one of 10 min (due 40)
    # on a line with a 15-minute colour change. Red first, then blue at 10 + 15 = 25, ends
    # at 35: on time. Only a due date of 30 for blue makes it late, by 5, because of the
    # changeover; blue first would make red 25 min late x 5.
    problem = Problem(
        work_centres=[WorkCentre(id="L", changeover_minutes=15)],
        orders=[
            one_op("red", "L", 10, due=10, weight=5, family="red"),
            one_op("blue", "L", 10, due=30, family="blue"),
        ],
    )
    plan = valid(problem, solve(problem, Params(time_limit_s=5)))
    assert [(lo.order, lo.finish, lo.tardiness) for lo in plan.late_orders] == [("blue", 35, 5)]
    assert plan.late_orders[0].reasons == [
        "order blue operation 0 on L starts at 25, after 15 min of changeover on L from "
        "order red operation 0 (red to blue)",
        "order red operation 0 on L starts at 0: the order's release",
    ]


def test_every_brandimarte_file_reads_with_its_fractional_header() -> None:
    for n in range(1, 11):
        problem = read_instance(BENCHMARKS / "fjsp" / f"mk{n:02d}.fjs", "fjsp")
        assert len(problem.orders) >= 10


def test_frozen_operations_stay_and_the_rest_is_planned_around_them() -> None:
    # B runs on M from 5 to 15 already. A (10 min, due at 0) cannot fit before it.
    b_running = Assignment(order="B", seq=0, work_centre="M", start=5, end=15)
    problem = Problem(
        work_centres=[WorkCentre(id="M")],
        orders=[one_op("A", "M", 10, due=0, weight=5), one_op("B", "M", 10, due=100)],
        frozen=[b_running],
    )
    for plan in (dispatch(problem), solve(problem, Params(time_limit_s=5))):
        valid(problem, plan)
        placed = {a.order: a for a in plan.assignments}
        assert placed["B"] == b_running and placed["A"].start == 15
    moved_b = dispatch(problem).model_copy(
        update={"assignments": [Assignment(order="B", seq=0, work_centre="M", start=0, end=10)]}
    )
    assert any("frozen order B operation 0 moved" in v for v in violations(problem, moved_b))


def test_a_new_order_is_inserted_without_moving_the_plan_in_force() -> None:
    centres = [WorkCentre(id="CUT"), WorkCentre(id="SEW1"), WorkCentre(id="SEW2")]

    def order(i: int, due: int) -> Order:
        return Order(
            id=f"o{i}",
            due=due,
            operations=[
                Operation(modes=[Mode(work_centre="CUT", minutes=20)]),
                Operation(
                    modes=[
                        Mode(work_centre="SEW1", minutes=60),
                        Mode(work_centre="SEW2", minutes=70),
                    ]
                ),
            ],
        )

    first = Problem(work_centres=centres, orders=[order(i, 100 + 40 * i) for i in range(5)])
    plan = valid(first, solve(first, Params(time_limit_s=5)))
    params = Params(time_limit_s=5, weights={"weighted_tardiness": 1, "plan_changes": 1000})
    second = first.model_copy(
        update={"orders": [*first.orders, order(9, 400)], "previous": plan.assignments}
    )
    inserted = valid(second, solve(second, params))
    assert inserted.terms["plan_changes"] == 0
    before = {(a.order, a.seq): a for a in plan.assignments}
    assert all(before[(a.order, a.seq)] == a for a in inserted.assignments if a.order != "o9")
    assert {a.order for a in inserted.assignments} >= {"o9"}


def test_work_that_changes_factory_travels_first() -> None:
    # Cut only in F1. Sewing takes 60 min in F1 or 10 min in F2, but F2 is 100 min away:
    # staying (ends at 30 + 60 = 90) beats travelling (30 + 100 + 10 = 140).
    def problem(transfer: int) -> Problem:
        return Problem(
            work_centres=[
                WorkCentre(id="CUT1", factory="F1"),
                WorkCentre(id="SEW1", factory="F1"),
                WorkCentre(id="SEW2", factory="F2"),
            ],
            orders=[
                Order(
                    id="A",
                    due=0,
                    operations=[
                        Operation(modes=[Mode(work_centre="CUT1", minutes=30)]),
                        Operation(
                            modes=[
                                Mode(work_centre="SEW1", minutes=60),
                                Mode(work_centre="SEW2", minutes=10),
                            ]
                        ),
                    ],
                )
            ],
            transfer_minutes=transfer,
        )

    far, near = problem(100), problem(0)
    for plan in (dispatch(far), solve(far, Params(time_limit_s=5))):
        assert valid(far, plan).kpis.makespan == 90
        assert plan.assignments[-1].work_centre == "SEW1"
    assert valid(near, solve(near, Params(time_limit_s=5))).kpis.makespan == 40
    # A plan that ignores the transfer is caught, and a late order names the travel.
    travelled = solve(near, Params(time_limit_s=5))
    assert any("100 min of transfer" in v for v in violations(far, travelled))
    shifted = travelled.model_copy(
        update={
            "assignments": [
                travelled.assignments[0],
                Assignment(order="A", seq=1, work_centre="SEW2", start=130, end=140),
            ]
        }
    )
    assert violations(far, shifted) == []
    reasons = late_orders(far, shifted.assignments)[0].reasons
    assert any("travels 100 min to another factory" in r for r in reasons)


def test_closed_time_from_a_calendar_holds_work_back_and_is_explained() -> None:
    # One 8:00-16:00 shift, Monday to Saturday, day 2 a holiday.
    closed = closed_intervals([(480, 960)], days=4, holidays=frozenset({2}))
    # Open: day 0 and day 1 from 480 to 960 of the day, day 3 (day 2 is the holiday).
    assert closed == [(0, 480), (960, 1920), (2400, 4800), (5280, 5760)]
    problem = Problem(
        work_centres=[WorkCentre(id="SEW", closed=closed)],
        orders=[
            one_op("A", "SEW", 300, due=600),  # 8:00-13:00 on day 0: late, opening is 8:00
            one_op("B", "SEW", 300, due=2000),  # does not fit in the rest of day 0
        ],
    )
    for plan in (dispatch(problem), solve(problem, Params(time_limit_s=5))):
        placed = {a.order: a for a in valid(problem, plan).assignments}
        assert (placed["A"].start, placed["B"].start) == (480, 1920)
    reasons = late_orders(problem, dispatch(problem).assignments)[0].reasons
    assert reasons == [
        "order A operation 0 on SEW starts at 480, when SEW opens (closed from 0: its "
        "factory's calendar)"
    ]
    inside = dispatch(problem).model_copy(
        update={
            "assignments": [
                Assignment(order="A", seq=0, work_centre="SEW", start=800, end=1100),
                Assignment(order="B", seq=0, work_centre="SEW", start=1920, end=2220),
            ]
        }
    )
    assert any("closed from 960 to 1920" in v for v in violations(problem, inside))


def test_a_late_order_behind_a_night_is_traced_to_what_kept_it_from_the_day_before() -> None:
    """Open 8:00-16:00 (480-960) on days 0 and 1. B waits for Tuesday's opening because A
    holds SEW up to Monday's closing; D's sewing waits because its cut at CUT (open around
    the clock) ends at 1000, after SEW closed at 960."""
    closed = closed_intervals([(480, 960)], days=2)
    sew = Operation(modes=[Mode(work_centre="SEW", minutes=60)])
    problem = Problem(
        work_centres=[WorkCentre(id="SEW", closed=closed), WorkCentre(id="CUT")],
        orders=[
            one_op("A", "SEW", 480, due=2000),
            one_op("B", "SEW", 60, due=1000),
            Order(
                id="D",
                operations=[Operation(modes=[Mode(work_centre="CUT", minutes=1000)]), sew],
                due=1500,
            ),
        ],
    )
    plan = [
        Assignment(order="A", seq=0, work_centre="SEW", start=480, end=960),
        Assignment(order="B", seq=0, work_centre="SEW", start=1920, end=1980),
        Assignment(order="D", seq=0, work_centre="CUT", start=0, end=1000),
        Assignment(order="D", seq=1, work_centre="SEW", start=1980, end=2040),
    ]
    valid(problem, dispatch(problem).model_copy(update={"assignments": plan}))
    why = {late.order: late.reasons for late in late_orders(problem, plan)}
    assert why["B"] == [
        "order B operation 0 on SEW starts at 1920, when SEW opens (closed from 960: its "
        "factory's calendar)",
        "SEW was busy up to its closing at 960 with order A operation 0",
        "order A operation 0 on SEW starts at 480, when SEW opens (closed from 0: its "
        "factory's calendar)",
    ]
    assert why["D"][:2] == [
        "order D operation 1 on SEW starts at 1980, when SEW is free of order B operation 0",
        "order B operation 0 on SEW starts at 1920, when SEW opens (closed from 960: its "
        "factory's calendar)",
    ]
    alone = [a for a in plan if a.order == "D"]  # D on its own: its sewing at the opening
    alone[1] = alone[1].model_copy(update={"start": 1920, "end": 1980})
    only_d = problem.model_copy(update={"orders": problem.orders[2:]})
    assert late_orders(only_d, alone)[0].reasons == [
        "order D operation 1 on SEW starts at 1920, when SEW opens (closed from 960: its "
        "factory's calendar)",
        "operation 0 ended at 1000 on CUT, after SEW closed at 960",
        "order D operation 0 on CUT starts at 0: the order's release",
    ]


def test_an_operation_longer_than_any_open_stretch_is_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="longer than its longest open stretch .480 min.: split"):
        Problem(
            work_centres=[WorkCentre(id="SEW", closed=closed_intervals([(480, 960)], days=3))],
            orders=[one_op("A", "SEW", 600)],
        )


def two_ways_to_finish(**weights: float) -> tuple[Problem, Params]:
    """By hand: cut 10 min on A (factory F1, 1 per minute); then sew either on A for 30 min
    or on B (factory F2, 3 per minute) for 5 min after a 5-minute transfer costing 50.
    On A: makespan 40, cost 10 + 30 = 40. On B: makespan 10 + 5 + 5 = 20, cost
    10 + 15 + 50 = 75, one transfer."""
    problem = Problem(
        work_centres=[
            WorkCentre(id="A", factory="F1", cost_per_minute=1),
            WorkCentre(id="B", factory="F2", cost_per_minute=3),
        ],
        orders=[
            Order(
                id="o",
                operations=[
                    Operation(modes=[Mode(work_centre="A", minutes=10)]),
                    Operation(
                        modes=[Mode(work_centre="A", minutes=30), Mode(work_centre="B", minutes=5)]
                    ),
                ],
            )
        ],
        transfer_minutes=5,
        transfer_cost=50,
    )
    return problem, Params(time_limit_s=5, workers=1, weights=Weights(**weights))


def test_every_objective_term_is_reported_and_its_weight_decides() -> None:
    # Cost first; a little lead time so that the cheap plan does not idle either.
    problem, cheapest = two_ways_to_finish(weighted_tardiness=0, cost=1, lead_time=0.1)
    plan = valid(problem, solve(problem, cheapest))
    assert [a.work_centre for a in plan.assignments] == ["A", "A"]
    assert plan.terms == {
        "weighted_tardiness": 0,
        "makespan": 40,
        "lead_time": 40,
        "cost": 40,
        "changeovers": 0,
        "plan_changes": 0,
    }
    assert plan.objective == 44 and plan.status == SolveStatus.OPTIMAL
    assert plan.kpis.cost == 40 and plan.kpis.transfers == 0
    assert plan.kpis.utilisation == {"A": 100.0, "B": 0.0}
    assert plan.kpis.factory_utilisation == {"F1": 100.0, "F2": 0.0}

    problem, fastest = two_ways_to_finish(weighted_tardiness=0, lead_time=1)
    plan = valid(problem, solve(problem, fastest))
    assert [a.work_centre for a in plan.assignments] == ["A", "B"]
    assert plan.terms["lead_time"] == 20 and plan.terms["cost"] == 75
    assert plan.objective == 20 and plan.kpis.transfers == 1
    # B is busy 5 of the 20 minutes, A 10 of 20.
    assert plan.kpis.utilisation == {"A": 50.0, "B": 25.0}


def test_a_changeover_keeps_its_gap_and_cpsat_groups_the_colours() -> None:
    # By hand: one line, 15 minutes to change colour, three 10-minute orders: red, blue,
    # red. The dispatcher takes them in id order: red, blue (after 15), red (after 15):
    # makespan 60, two changeovers. Red, red, blue: 10 + 10 + 15 + 10 = 45, one changeover.
    problem = Problem(
        work_centres=[WorkCentre(id="M", changeover_minutes=15)],
        orders=[
            one_op("a", "M", 10, family="red"),
            one_op("b", "M", 10, family="blue"),
            one_op("c", "M", 10, family="red"),
        ],
    )
    params = Params(time_limit_s=5, workers=1, weights=Weights(weighted_tardiness=0, makespan=1))
    greedy = valid(problem, dispatch(problem, params))
    assert greedy.kpis.makespan == 60 and greedy.terms["changeovers"] == 2
    plan = valid(problem, solve(problem, params))
    assert plan.kpis.makespan == 45 and plan.terms["changeovers"] == 1
    assert plan.status == SolveStatus.OPTIMAL and plan.kpis.changeovers == 1

    squeezed = plan.model_copy(
        update={
            "assignments": [
                Assignment(order="a", seq=0, work_centre="M", start=0, end=10),
                Assignment(order="b", seq=0, work_centre="M", start=10, end=20),
                Assignment(order="c", seq=0, work_centre="M", start=35, end=45),
            ]
        }
    )
    assert violations(problem, squeezed) == [
        "M changes over from order a (red) to order b (blue) in 0 min, not 15"
    ]
