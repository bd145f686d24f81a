"""A plan's times on factory calendars, keeping its choices.

The CP-SAT model keeps every operation inside one open stretch of its work centre (see
``WorkCentre.closed``), which a live plan of whole sewing orders cannot: an order of three
days' sewing runs in three days' shifts. So a scenario is solved on the continuous clock
and then timed here: each operation keeps the work centre and the place in that work
centre's sequence the solver gave it, and starts as early as its release, its predecessor
(plus a transfer between factories) and the work centre allow, in open time, pausing over
closed time (``optimizer.calendar``). Frozen operations keep their times, and one the
solver left where the previous plan has it (work centre and start) starts no earlier than
there: it stays unless what comes before it now ends later.

The result is a semi-active schedule: no operation can start earlier without changing the
order of work on some work centre.
"""

from __future__ import annotations

import heapq

from optimizer.calendar import finish_after, next_open
from optimizer.problem import Assignment, Problem


def retime(problem: Problem, assignments: list[Assignment]) -> list[Assignment]:
    """``assignments`` (of ``problem`` or of a stand-in for it with the same orders and
    work centres: a solve on stretched minutes) timed on ``problem``: each operation works
    its mode's minutes on its work centre, in that work centre's open time (its ``closed``
    is the calendar, and an operation may pause over it). A lot keeps its length."""
    orders = {o.id: o for o in problem.orders}
    closed = {w.id: w.closed for w in problem.work_centres}
    factories = problem.factory_of()
    capacity = {w.id: w.capacity for w in problem.work_centres}
    frozen = {(f.order, f.seq) for f in problem.frozen}
    kept = {(p.order, p.seq, p.lot, p.work_centre, p.start) for p in problem.previous}
    # Free times of each work centre's parallel lanes; a heap: the first lane free takes the
    # next operation.
    lanes: dict[str, list[int]] = {w: [0] * capacity[w] for w in capacity}
    for f in problem.frozen:
        heapq.heapreplace(lanes[f.work_centre], max(lanes[f.work_centre][0], f.end))
    done: dict[tuple[str, int, int], Assignment] = {}
    timed = []
    for a in sorted(assignments, key=lambda x: (x.start, x.order, x.seq, x.lot)):
        if (a.order, a.seq) in frozen:
            done[(a.order, a.seq, a.lot)] = a
            timed.append(a)
            continue
        order = orders[a.order]
        mode = next(m for m in order.operations[a.seq].modes if m.work_centre == a.work_centre)
        work = a.end - a.start if a.quantity else mode.minutes
        ready = order.release
        if (a.order, a.seq, a.lot, a.work_centre, a.start) in kept:
            ready = max(ready, a.start)
        before = done.get((a.order, a.seq - 1, a.lot)) if a.seq else None
        if before is not None:
            ready = max(
                ready, before.end + problem.transfer(factories, before.work_centre, a.work_centre)
            )
        shut = closed.get(a.work_centre, [])
        start = next_open(shut, max(ready, lanes[a.work_centre][0]))
        end = finish_after(shut, start, work)
        heapq.heapreplace(lanes[a.work_centre], end)
        moved = a.model_copy(update={"start": start, "end": end})
        done[(a.order, a.seq, a.lot)] = moved
        timed.append(moved)
    return timed
