"""The baseline an ERP would give a planner: orders one after another by earliest due
date, each operation on the eligible work centre that finishes it earliest, in the first
idle gap long enough for it (and for a changeover on either side). No look-ahead: an
order never waits for a later one. CP-SAT starts from this plan and must beat it."""

from __future__ import annotations

import bisect
import heapq
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


def most_work_remaining(problem: Problem) -> Callable[[Order], tuple[float, int, str]]:
    """The order with the most work left first (MWKR): the classic list-scheduling rule
    for makespan. Used interleaved, operation by operation."""
    work = {
        o.id: sum(min(m.minutes for m in op.modes) for op in o.operations) for o in problem.orders
    }
    return lambda o: (-work[o.id], o.release, o.id)


RULES = {"edd": earliest_due_date, "wspt": weighted_shortest_work}
# Interleaved rules cost a heap operation per operation more; they pay where whole orders
# one after another leave work centres idle (job shops: mk10 387 -> see docs/scheduler.md).
INTERLEAVED_RULES = {"mwkr": most_work_remaining, "edd": earliest_due_date}


def best_dispatch(problem: Problem, params: Params | None = None) -> Plan:
    """The best plan of the dispatching rules (``RULES`` order by order, and
    ``INTERLEAVED_RULES`` operation by operation): the scheduler's starting point. Never
    worse than ``dispatch`` with earliest due date, which is one of them."""
    plans = [dispatch(problem, params, rule) for rule in RULES.values()]
    plans += [
        dispatch(problem, params, rule, interleave=True) for rule in INTERLEAVED_RULES.values()
    ]
    return min(plans, key=lambda plan: plan.objective)


def dispatch(
    problem: Problem,
    params: Params | None = None,
    rule: Callable[[Problem], Callable[[Order], tuple[float, int, str]]] = earliest_due_date,
    interleave: bool = False,
) -> Plan:
    """Orders one after another in ``rule``'s order (default: earliest due date), each
    operation where it finishes earliest; with ``interleave``, operation by operation
    across all orders (a list scheduler: good for makespan, where whole orders one after
    another leave the work centres idle)."""
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

    # 3. The rest, each operation on the eligible work centre that finishes it earliest:
    #    whole orders one after another in the rule's order, or (``interleave``) one
    #    operation at a time, the one ready first (then the rule's first) of all orders.
    def place(order: Order, seq: int, ready: int, came_from: str | None) -> Assignment:
        best: tuple[int, int, str, int] | None = None  # (end, start, centre, lane)
        for mode in order.operations[seq].modes:
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
        a = Assignment(order=order.id, seq=seq, work_centre=centre, start=start, end=end)
        put(a, lane)
        return a

    def resume(order: Order) -> tuple[int, int, str | None]:
        """Where the order's unplaced operations start: (seq, ready, last centre)."""
        ready, came_from, seq = order.release, None, 0
        while (order.id, seq) in placed:
            ready, came_from = placed[(order.id, seq)].end, placed[(order.id, seq)].work_centre
            seq += 1
        return seq, ready, came_from

    priority = rule(problem)
    if not interleave:
        for order in sorted(problem.orders, key=priority):
            seq, ready, came_from = resume(order)
            for n in range(seq, len(order.operations)):
                if (order.id, n) in placed:  # frozen further on
                    ready, came_from = placed[(order.id, n)].end, placed[(order.id, n)].work_centre
                    continue
                a = place(order, n, ready, came_from)
                ready, came_from = a.end, a.work_centre
    else:
        queue = []
        for order in problem.orders:
            seq, ready, came_from = resume(order)
            if seq < len(order.operations):
                queue.append((ready, priority(order), seq, came_from, order))
        heapq.heapify(queue)
        while queue:
            ready, rank, seq, came_from, order = heapq.heappop(queue)
            a = place(order, seq, ready, came_from)
            seq += 1
            while (order.id, seq) in placed:  # frozen further on
                a = placed[(order.id, seq)]
                seq += 1
            if seq < len(order.operations):
                heapq.heappush(queue, (a.end, rank, seq, a.work_centre, order))
    return plan_of(problem, list(placed.values()), params.weights, SolveStatus.GREEDY)
