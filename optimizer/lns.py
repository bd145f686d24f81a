"""Large problems, a neighbourhood at a time (large neighbourhood search around a plan).

A thousand orders are too many for one CP-SAT model to search in seconds on two cores.
Instead: start from the dispatcher's plan; pick a neighbourhood of orders (around a late
order, mostly the orders planned just before it, which are the ones in its way); solve
only those with CP-SAT while everything else stays where it is, as time taken on its work
centres; keep the result if the whole plan got better; repeat until the time is up.
Pure like the rest of ``optimizer``: no I/O, no printing.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ortools.sat.python import cp_model

from optimizer.evaluate import plan_of
from optimizer.problem import (
    Assignment,
    Params,
    Plan,
    Problem,
    Progress,
    SolveStatus,
    Weights,
    kpis_of,
    objective_of,
    terms_of,
)

# A neighbourhood reaches this share of its orders back in plan order from its seed.
BEHIND = 0.75


@dataclass
class Outcome:
    """What one CP-SAT run found: a CP-SAT status, and the plan's assignments if any."""

    status: cp_model.CpSolverStatus
    assignments: list[Assignment] | None = None
    bound: float = 0.0
    first_at: float | None = None


class Search(Protocol):
    """``optimizer.cpsat.search``: one CP-SAT run (passed in, so this module does not
    import the model that imports it)."""

    def __call__(
        self,
        problem: Problem,
        params: Params,
        hint: Plan,
        time_limit_s: float,
        *,
        started: float | None = None,
        reserved: dict[str, list[tuple[int, int]]] | None = None,
        stop: threading.Event | None = None,
    ) -> Outcome: ...


def use_neighbourhoods(problem: Problem, params: Params) -> bool:
    """Whether ``problem`` is too large for one model. A line that changes over between
    families is sequenced by a circuit over all its operations, which a neighbourhood
    cannot see whole: such problems always get the whole model."""
    operations = sum(len(o.operations) for o in problem.orders)
    families = {o.family for o in problem.orders} - {""}
    changes_over = len(families) > 1 and any(w.changeover for w in problem.work_centres)
    return operations > params.full_model_operations and not changes_over


def lower_bound(problem: Problem, weights: Weights) -> float:
    """A bound no plan beats: each order alone, on its fastest work centres, from its
    release (tardiness, makespan and lead time; the other terms count 0)."""
    alone = {
        o.id: o.release + sum(min(m.minutes for m in op.modes) for op in o.operations)
        for o in problem.orders
    }
    tardiness = sum(
        o.weight * max(0, alone[o.id] - o.due) for o in problem.orders if o.due is not None
    )
    return (
        weights.weighted_tardiness * tardiness
        + weights.makespan * max(alone.values())
        + weights.lead_time * sum(alone[o.id] - o.release for o in problem.orders)
    )


def improve(
    problem: Problem,
    params: Params,
    start_from: Plan,
    search: Search,
    started: float,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
) -> Plan:
    """The best plan found from ``start_from`` by ``params.time_limit_s`` after
    ``started``; never worse than it."""
    rng = random.Random(params.seed)
    deadline = started + params.time_limit_s
    bound = lower_bound(problem, params.weights)
    best = list(start_from.assignments)
    best_value = start_from.objective
    improvements = 0
    first_at: float | None = None
    lock = threading.Lock()
    done = threading.Event()

    def report() -> None:
        while not done.wait(1.0):
            if on_progress is not None:
                with lock:
                    progress = Progress(
                        seconds=round(time.monotonic() - started, 3),
                        objective=best_value,
                        best_bound=bound,
                        solutions=improvements,
                    )
                on_progress(progress)

    reporter = threading.Thread(target=report, name="lns-progress", daemon=True)
    reporter.start()
    try:
        while best_value > bound and not (stop is not None and stop.is_set()):
            left = deadline - time.monotonic()
            if left < 0.2:
                break
            chosen = _neighbourhood(problem, best, rng, params.neighbourhood_orders)
            sub, hint, reserved = _sub_problem(problem, params, best, chosen)
            outcome = search(
                sub,
                params,
                hint,
                min(params.neighbourhood_seconds, left),
                reserved=reserved,
                stop=stop,
            )
            if outcome.assignments is None:
                continue
            merged = [a for a in best if a.order not in chosen] + outcome.assignments
            value = objective_of(
                params.weights, terms_of(problem, merged, kpis_of(problem, merged))
            )
            if value < best_value - 1e-9:
                with lock:
                    best, best_value = merged, value
                    improvements += 1
                if first_at is None:
                    first_at = round(time.monotonic() - started, 3)
    finally:
        done.set()
        reporter.join()

    if not improvements:
        return start_from.model_copy(
            update={"seconds": round(time.monotonic() - started, 3), "best_bound": bound}
        )
    plan = plan_of(problem, best, params.weights, SolveStatus.FEASIBLE)
    return plan.model_copy(
        update={
            "best_bound": min(bound, plan.objective),
            "seconds": round(time.monotonic() - started, 3),
            "first_solution_seconds": first_at,
        }
    )


def _neighbourhood(
    problem: Problem, plan: list[Assignment], rng: random.Random, size: int
) -> set[str]:
    """``size`` orders consecutive in plan order (by their first operation's start) around
    a seed: mostly a late order, chosen by its weighted tardiness, and now and then any
    order, so that the search does not circle one spot."""
    first_start: dict[str, int] = {}
    finish: dict[str, int] = defaultdict(int)
    for a in plan:
        first_start[a.order] = min(first_start.get(a.order, a.start), a.start)
        finish[a.order] = max(finish[a.order], a.end)
    timeline = sorted(first_start, key=lambda o: (first_start[o], o))
    late = [
        (o.id, o.weight * (finish[o.id] - o.due))
        for o in problem.orders
        if o.due is not None and finish[o.id] > o.due and o.weight > 0
    ]
    if late and rng.random() < 0.8:
        seed = rng.choices([o for o, _ in late], weights=[w for _, w in late])[0]
    else:
        seed = rng.choice(timeline)
    at = timeline.index(seed)
    first = max(0, min(at - int(size * BEHIND), len(timeline) - size))
    return set(timeline[first : first + size])


def _sub_problem(
    problem: Problem, params: Params, plan: list[Assignment], chosen: set[str]
) -> tuple[Problem, Plan, dict[str, list[tuple[int, int]]]]:
    """The chosen orders as a problem of their own, their current assignments as its hint,
    and the time every other order's operations take on each work centre."""
    sub = problem.model_copy(
        update={
            "orders": [o for o in problem.orders if o.id in chosen],
            "frozen": [f for f in problem.frozen if f.order in chosen],
            "previous": [p for p in problem.previous if p.order in chosen],
        }
    )
    mine = [a for a in plan if a.order in chosen]
    reserved: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for a in plan:
        if a.order not in chosen and a.end > a.start:
            reserved[a.work_centre].append((a.start, a.end))
    # On a work centre that runs one thing at a time, back-to-back work of other orders is
    # one block: a busy plan has thousands of such operations, and CP-SAT spent a whole
    # neighbourhood's time just loading them (bench/scenario.py, 1,000 orders).
    single = {w.id for w in problem.work_centres if w.capacity == 1}
    for centre in single & reserved.keys():
        reserved[centre] = merged(reserved[centre])
    hint = plan_of(sub, mine, params.weights, SolveStatus.GREEDY, explain=False)
    return sub, hint, dict(reserved)


def merged(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The union of [start, end) intervals, as sorted intervals that neither overlap nor
    touch."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
