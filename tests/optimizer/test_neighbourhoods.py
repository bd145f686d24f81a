"""Large problems are improved a neighbourhood of orders at a time (``optimizer.lns``);
here the threshold is lowered so that small problems take that path too."""

from __future__ import annotations

import threading
import time

from hypothesis import HealthCheck, given, settings

from bench.apparel import generate
from optimizer.check import violations
from optimizer.cpsat import solve
from optimizer.greedy import dispatch
from optimizer.lns import lower_bound, merged, use_neighbourhoods
from optimizer.problem import Params, Problem, Progress, SolveStatus, Weights, WorkCentre
from tests.optimizer.test_scheduler import one_op, small_problems, weights


def in_neighbourhoods(**overrides: object) -> Params:
    fields: dict[str, object] = {
        "time_limit_s": 4,
        "workers": 1,
        "full_model_operations": 1,
        "neighbourhood_orders": 12,
        "neighbourhood_seconds": 0.5,
        **overrides,
    }
    return Params.model_validate(fields)


def test_a_plan_improved_by_neighbourhoods_keeps_every_invariant_and_beats_greedy() -> None:
    problem = generate(120, seed=1)  # the dispatcher leaves 10 orders late here
    params = in_neighbourhoods()
    assert use_neighbourhoods(problem, params)
    greedy = dispatch(problem, params)
    heard: list[Progress] = []
    plan = solve(problem, params, on_progress=heard.append)
    assert violations(problem, plan) == []
    assert plan.status == SolveStatus.FEASIBLE and plan.first_solution_seconds is not None
    assert plan.objective < greedy.objective
    assert lower_bound(problem, params.weights) == plan.best_bound <= plan.objective
    # Progress every second, from the dispatcher's objective down.
    assert len(heard) >= 3 and heard[0].objective is not None
    assert heard[0].objective <= greedy.objective and heard[-1].objective == plan.objective


def test_a_stop_ends_the_neighbourhood_search_with_its_best_plan() -> None:
    problem = generate(120, seed=1)
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    started = time.monotonic()
    plan = solve(problem, in_neighbourhoods(time_limit_s=60), stop=stop)
    assert time.monotonic() - started < 5
    assert violations(problem, plan) == []


def test_the_bound_is_each_order_alone_on_its_fastest_work_centres() -> None:
    # By hand: A alone ends at 10 (due 4, weight 2): at least 12; B at 5 + 10 = 15 (due
    # 20): on time. Makespan at least 15; lead time at least 10 + 10.
    problem = Problem(
        work_centres=[WorkCentre(id="M")],
        orders=[one_op("A", "M", 10, due=4, weight=2), one_op("B", "M", 10, release=5, due=20)],
    )
    assert lower_bound(problem, Weights()) == 12
    assert lower_bound(problem, Weights(weighted_tardiness=0, makespan=1, lead_time=1)) == 35


def test_lines_that_change_over_are_always_planned_whole() -> None:
    problem = Problem(
        work_centres=[WorkCentre(id="M", changeover_minutes=5)],
        orders=[one_op(c, "M", 3, family=c) for c in "ab"],
    )
    assert not use_neighbourhoods(problem, in_neighbourhoods())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_problems(), weights())
def test_every_neighbourhood_plan_keeps_the_invariants_and_is_never_worse(
    problem: Problem, w: Weights
) -> None:
    params = in_neighbourhoods(time_limit_s=0.5, neighbourhood_orders=2, weights=w)
    greedy = dispatch(problem, params)
    plan = solve(problem, params)
    assert violations(problem, plan) == []
    assert plan.objective <= greedy.objective


def test_back_to_back_reserved_work_is_one_block() -> None:
    assert merged([(50, 60), (0, 10), (10, 20), (15, 30), (40, 45)]) == [
        (0, 30),
        (40, 45),
        (50, 60),
    ]
    assert merged([]) == []
