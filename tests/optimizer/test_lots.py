"""Lot splitting: a big order sewn in two factories at once, checked by hand and by the
one invariant checker."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimizer.check import violations
from optimizer.cpsat import solve
from optimizer.greedy import best_dispatch
from optimizer.lots import lot_minutes, lot_sizes
from optimizer.problem import (
    Mode,
    Operation,
    Order,
    Params,
    Plan,
    Problem,
    SolveStatus,
    Weights,
    WorkCentre,
)
from tests.optimizer.test_scheduler import small_problems, valid

MAKESPAN = Weights(weighted_tardiness=0, makespan=1)


@pytest.mark.parametrize(
    ("quantity", "min_lot", "max_lots", "sizes"),
    [
        (200, 50, 2, [100, 100]),
        (201, 50, 2, [101, 100]),
        (250, 50, 3, [84, 83, 83]),
        (90, 50, 2, [90]),  # too small for two lots of 50
        (200, 0, 2, [200]),  # no minimum lot: never split
        (200, 50, 1, [200]),  # one lot allowed: not split
    ],
)
def test_lots_are_near_equal_and_never_below_the_minimum(
    quantity: int, min_lot: int, max_lots: int, sizes: list[int]
) -> None:
    assert lot_sizes(quantity, min_lot, max_lots) == sizes


def test_a_lot_pays_the_whole_setup_and_its_share_of_the_run() -> None:
    mode = Mode(work_centre="S1", minutes=400, setup_minutes=40)
    assert lot_minutes(mode, 100, 200) == 40 + 180
    assert lot_minutes(mode, 67, 200) == 40 + 121  # 120.6 rounded up
    assert lot_minutes(mode, 200, 200) == 400


def big_order(**kw: object) -> Problem:
    """200 pieces: cut on one table (100 min, 20 of them setup), then sewn on a line in
    either of two factories (400 min, 40 of them setup)."""
    return Problem(
        work_centres=[
            WorkCentre(id="CUT", factory="F1"),
            WorkCentre(id="SEW-1", factory="F1"),
            WorkCentre(id="SEW-2", factory="F2"),
        ],
        orders=[
            Order(
                id="PO-1",
                quantity=200,
                min_lot=100,
                operations=[
                    Operation(modes=[Mode(work_centre="CUT", minutes=100, setup_minutes=20)]),
                    Operation(
                        modes=[
                            Mode(work_centre="SEW-1", minutes=400, setup_minutes=40),
                            Mode(work_centre="SEW-2", minutes=400, setup_minutes=40),
                        ]
                    ),
                ],
                **kw,
            )
        ],
    )


def test_a_big_order_is_sewn_in_two_factories_at_once() -> None:
    problem = big_order()
    whole = valid(problem, solve(problem, Params(time_limit_s=5, weights=MAKESPAN)))
    assert whole.kpis.makespan == 100 + 400  # one lot: cut, then sew

    plan = valid(problem, solve(problem, Params(time_limit_s=5, weights=MAKESPAN, max_lots=2)))
    # By hand: the lots are cut one after the other (60 min each: 20 setup + 40), each is
    # sewn on its own line (220 min: 40 setup + 180), the second from minute 120: 340.
    assert plan.status == SolveStatus.OPTIMAL and plan.kpis.makespan == 340
    sewing = sorted((a.lot, a.quantity, a.work_centre) for a in plan.assignments if a.seq == 1)
    assert [(lot, pieces) for lot, pieces, _ in sewing] == [(0, 100), (1, 100)]
    assert {centre for _, _, centre in sewing} == {"SEW-1", "SEW-2"}


def test_where_nothing_runs_in_parallel_splitting_is_not_worse_than_the_dispatcher() -> None:
    problem = big_order()
    one_line = problem.model_copy(
        update={
            "work_centres": problem.work_centres[:2],
            "orders": [
                problem.orders[0].model_copy(
                    update={
                        "operations": [
                            problem.orders[0].operations[0],
                            Operation(modes=[problem.orders[0].operations[1].modes[0]]),
                        ]
                    }
                )
            ],
        }
    )
    params = Params(time_limit_s=5, weights=MAKESPAN, max_lots=2)
    plan = valid(one_line, solve(one_line, params))
    # Two lots on one line pay its setup twice (but the sewing starts after the first
    # lot's cutting): 60 + 220 + 220 = 500, the same as the whole order.
    assert plan.kpis.makespan <= best_dispatch(one_line, params).kpis.makespan == 500


def test_a_late_split_order_is_explained_by_its_last_lot() -> None:
    problem = big_order(due=300, weight=1)
    plan = valid(problem, solve(problem, Params(time_limit_s=5, max_lots=2)))
    (late,) = plan.late_orders
    assert (late.order, late.finish, late.tardiness) == ("PO-1", 340, 40)
    assert late.reasons[0] == "its lot 1 is the last to finish"


def test_the_checker_finds_lots_that_do_not_add_up() -> None:
    problem = big_order()
    plan = solve(problem, Params(time_limit_s=5, weights=MAKESPAN, max_lots=2))
    short = [
        a.model_copy(update={"quantity": 90}) if (a.seq, a.lot) == (1, 1) else a
        for a in plan.assignments
    ]
    found = " | ".join(violations(problem, plan.model_copy(update={"assignments": short})))
    assert "operation 1: its lots make 190 pieces, not 200" in found
    assert "operation 1: lots [1] are below the minimum lot of 100" in found
    assert "operation 1 lot 1 lasts 220 min on" in found  # 90 pieces take 202 min
    one_lot_missing = [a for a in plan.assignments if (a.seq, a.lot) != (1, 1)]
    found = " | ".join(
        violations(problem, plan.model_copy(update={"assignments": one_lot_missing}))
    )
    assert "operation 1 runs lots [0], not [0, 1]" in found


def test_a_lot_waits_for_its_own_cutting_and_its_transfer() -> None:
    problem = big_order().model_copy(update={"transfer_minutes": 30})
    plan = valid(problem, solve(problem, Params(time_limit_s=5, weights=MAKESPAN, max_lots=2)))
    # By hand: the first lot (cut by 60) travels to the other factory and is sewn from 90
    # to 310; the second (cut by 120) stays and is sewn from 120 to 340.
    assert plan.kpis.makespan == 340
    at = {(a.seq, a.lot): a for a in plan.assignments}
    away = next(lot for lot in (0, 1) if at[(1, lot)].work_centre == "SEW-2")
    assert at[(1, away)].start >= at[(0, away)].end + 30
    assert plan.kpis.transfers == 1


@st.composite
def problems_with_lots(draw: st.DrawFn) -> Problem:
    problem = draw(small_problems())
    orders = [
        o.model_copy(
            update={
                "quantity": draw(st.sampled_from([0, 10, 60, 100])),
                "min_lot": draw(st.sampled_from([0, 20, 30])),
            }
        )
        for o in problem.orders
    ]
    return problem.model_copy(update={"orders": orders})


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems_with_lots(), st.integers(2, 3))
def test_every_plan_with_lots_keeps_the_invariants_and_is_never_worse_than_without(
    problem: Problem, max_lots: int
) -> None:
    params = Params(time_limit_s=2, workers=1, max_lots=max_lots)
    plan: Plan = valid(problem, solve(problem, params))
    assert plan.objective <= best_dispatch(problem, params).objective + 1e-6
    pieces = {o.id: o.quantity for o in problem.orders}
    for a in plan.assignments:
        if a.lot:  # a split order's lots carry their pieces
            assert 0 < a.quantity < pieces[a.order]
    assert violations(problem, plan) == []


def test_an_order_split_in_the_plan_in_force_keeps_its_lots_when_a_new_order_comes() -> None:
    problem = big_order()
    params = Params(time_limit_s=5, max_lots=2, weights=MAKESPAN)
    plan = valid(problem, solve(problem, params))
    newcomer = Order(
        id="PO-2",
        operations=[Operation(modes=[Mode(work_centre="CUT", minutes=30)])],
        due=600,
    )
    insertion = problem.model_copy(
        update={"orders": [*problem.orders, newcomer], "previous": plan.assignments}
    )
    stable = Params(
        time_limit_s=5, max_lots=2, weights=Weights(weighted_tardiness=1, plan_changes=1000)
    )
    inserted = valid(insertion, solve(insertion, stable))
    assert inserted.terms["plan_changes"] == 0
    kept = {
        (a.seq, a.lot, a.work_centre, a.start) for a in inserted.assignments if a.order == "PO-1"
    }
    assert kept == {(a.seq, a.lot, a.work_centre, a.start) for a in plan.assignments}
