"""The baseline an ERP would give a planner: orders one after another by earliest due
date, each operation on the eligible work centre that finishes it earliest, in the first
idle gap long enough for it (and for a changeover on either side). No look-ahead: an
order never waits for a later one. CP-SAT starts from this plan and must beat it."""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

from optimizer.evaluate import plan_of
from optimizer.problem import (
    Assignment,
    Order,
    Params,
    Plan,
    Problem,
    SolveStatus,
    differ,
)

# A lane's busy intervals: (start, end, family), sorted; closed time has family "".
Busy = list[tuple[int, int, str]]


def earliest_slot(busy: Busy, ready: int, minutes: int, family: str = "", setup: int = 0) -> int:
    """The earliest start at or after ``ready`` where ``minutes`` fit between the sorted,
    non-overlapping ``busy`` intervals of one lane, with ``setup`` minutes before and after
    wherever the neighbour is of another family."""
    start = ready
    for busy_start, busy_end, busy_family in busy:
        gap = setup if differ(busy_family, family) else 0
        if start + minutes + gap <= busy_start:
            break
        start = max(start, busy_end + gap)
    return start


def earliest_due_date(problem: Problem) -> Callable[[Order], tuple[float, int, str]]:
    """The ERP's rule, and the baseline every benchmark compares against."""
    return lambda o: (math.inf if o.due is None else o.due, o.release, o.id)


def weighted_shortest_work(problem: Problem) -> Callable[[Order], tuple[float, int, str]]:
    """Least work per unit of weight first (WSPT, Smith's rule): when more work is due
    than the factories can do, it minimises weighted lateness where EDD lets every order
    be a little late."""
    work = {
        o.id: sum(min(m.minutes for m in op.modes) for op in o.operations) for o in problem.orders
    }
    return lambda o: (work[o.id] / o.weight if o.weight else math.inf, o.release, o.id)


RULES = {"edd": earliest_due_date, "wspt": weighted_shortest_work}


def best_dispatch(problem: Problem, params: Params | None = None) -> Plan:
    """The best plan of the dispatching rules (``RULES``): the scheduler's starting point.
    Never worse than ``dispatch`` with earliest due date, which is one of them."""
    plans = [dispatch(problem, params, rule) for rule in RULES.values()]
    return min(plans, key=lambda plan: plan.objective)


def dispatch(
    problem: Problem,
    params: Params | None = None,
    rule: Callable[[Problem], Callable[[Order], tuple[float, int, str]]] = earliest_due_date,
) -> Plan:
    """Orders one after another in ``rule``'s order (default: earliest due date), each
    operation where it finishes earliest."""
    params = params or Params()
    # Each work centre has ``capacity`` lanes, each a sorted list of busy intervals.
    # Closed time is busy on every lane.
    lanes: dict[str, list[Busy]] = {
        w.id: [[(a, b, "") for a, b in w.closed] for _ in range(w.capacity)]
        for w in problem.work_centres
    }
    setup = {w.id: w.changeover for w in problem.work_centres}
    family = {o.id: o.family for o in problem.orders}
    placed: dict[tuple[str, int], Assignment] = {}

    def free_lane(a: Assignment) -> int | None:
        gap = setup[a.work_centre]
        mine = family[a.order]
        for lane, busy in enumerate(lanes[a.work_centre]):
            i = bisect.bisect_left(busy, (a.start, a.end))
            before_ok = (
                i == 0 or busy[i - 1][1] + (gap if differ(busy[i - 1][2], mine) else 0) <= a.start
            )
            after_ok = i == len(busy) or busy[i][0] >= a.end + (
                gap if differ(mine, busy[i][2]) else 0
            )
            if before_ok and after_ok:
                return lane
        return None

    def put(a: Assignment, lane: int) -> None:
        bisect.insort(lanes[a.work_centre][lane], (a.start, a.end, family[a.order]))
        placed[(a.order, a.seq)] = a

    # 1. Frozen operations stay exactly where they are (a prefix of their order's routing).
    for f in problem.frozen:
        lane = free_lane(f)
        put(f, 0 if lane is None else lane)  # frozen work that overlaps: the checker says so
    # 2. The previous plan's operations stay where they were while they still fit: a
    #    prefix of each order's routing, after its release, each after its predecessor.
    previous = {(a.order, a.seq): a for a in problem.previous}
    factories = problem.factory_of()
    for order in problem.orders:
        ready, came_from = order.release, None
        for seq, op in enumerate(order.operations):
            key = (order.id, seq)
            if key in placed:
                ready, came_from = placed[key].end, placed[key].work_centre
                continue
            before = previous.get(key)
            minutes = {m.work_centre: m.minutes for m in op.modes}
            if before is None or before.work_centre not in minutes:
                break
            travel = (
                0
                if came_from is None
                else problem.transfer(factories, came_from, before.work_centre)
            )
            if before.start < ready + travel:
                break
            if minutes.get(before.work_centre) != before.end - before.start:
                break
            lane = free_lane(before)
            if lane is None:
                break
            put(before, lane)
            ready, came_from = before.end, before.work_centre
    # 3. The rest: orders in the rule's order, each operation on the eligible work centre
    #    that finishes it earliest.
    for order in sorted(problem.orders, key=rule(problem)):
        ready, came_from = order.release, None
        for seq, op in enumerate(order.operations):
            if (order.id, seq) in placed:
                ready, came_from = placed[(order.id, seq)].end, placed[(order.id, seq)].work_centre
                continue
            best: tuple[int, int, str, int] | None = None  # (end, start, centre, lane)
            for mode in op.modes:
                travel = 0
                if came_from is not None:
                    travel = problem.transfer(factories, came_from, mode.work_centre)
                for lane, busy in enumerate(lanes[mode.work_centre]):
                    start = earliest_slot(
                        busy, ready + travel, mode.minutes, order.family, setup[mode.work_centre]
                    )
                    candidate = (start + mode.minutes, start, mode.work_centre, lane)
                    if best is None or candidate < best:
                        best = candidate
            assert best is not None  # an operation has at least one mode
            end, start, centre, lane = best
            put(Assignment(order=order.id, seq=seq, work_centre=centre, start=start, end=end), lane)
            ready, came_from = end, centre
    return plan_of(problem, list(placed.values()), params.weights, SolveStatus.GREEDY)
