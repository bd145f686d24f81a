"""Why an order is late: the chain of what held it back, read off the plan.

From the order's last operation backwards, each step names what its start waited for:
the order's previous operation (and its transfer), another order's operation on the same
work centre (and the changeover after it), the work centre's calendar, or the order's
release. Behind a closing (a night, a holiday) the chain goes on to what kept the
operation from starting before it: its previous operation ending while the work centre was
closed, or the work centre busy up to its closing. A chain that reaches a
release or the start of the horizon without slack is the critical path; a start with
nothing to wait for is a choice of the plan (it keeps that work centre for something
more urgent) and ends the chain.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from optimizer.problem import Assignment, LateOrder, Order, Problem, differ

MAX_STEPS = 12


@dataclass(frozen=True)
class _Index:
    """The plan and the problem, looked up by key: built once for all late orders."""

    orders: dict[str, Order]
    by_op: dict[tuple[str, int], Assignment]
    by_centre: dict[str, list[Assignment]]
    factories: dict[str, str]
    closed: dict[str, list[tuple[int, int]]]
    setup: dict[str, int]


def late_orders(problem: Problem, assignments: list[Assignment]) -> list[LateOrder]:
    by_centre: dict[str, list[Assignment]] = defaultdict(list)
    for a in assignments:
        by_centre[a.work_centre].append(a)
    index = _Index(
        orders={o.id: o for o in problem.orders},
        by_op={(a.order, a.seq): a for a in assignments},
        by_centre=by_centre,
        factories=problem.factory_of(),
        closed={w.id: w.closed for w in problem.work_centres},
        setup={w.id: w.changeover for w in problem.work_centres},
    )
    late = []
    for order in problem.orders:
        ops = [index.by_op[(order.id, seq)] for seq in range(len(order.operations))]
        finish = ops[-1].end
        if order.due is None or finish <= order.due:
            continue
        reasons = []
        work = sum(min(m.minutes for m in op.modes) for op in order.operations)
        if order.release + work > order.due:
            reasons.append(
                f"it cannot be on time: {work} min of work from its release at "
                f"{order.release} ends at {order.release + work} at the earliest"
            )
        reasons += _chain(problem, ops[-1], index)
        late.append(
            LateOrder(
                order=order.id,
                due=order.due,
                finish=finish,
                tardiness=finish - order.due,
                reasons=reasons,
            )
        )
    return late


def _chain(problem: Problem, last: Assignment, index: _Index) -> list[str]:
    steps: list[str] = []
    current = last
    for _ in range(MAX_STEPS):
        order = index.orders[current.order]
        what = f"order {current.order} operation {current.seq} on {current.work_centre}"
        previous = index.by_op.get((current.order, current.seq - 1)) if current.seq > 0 else None
        travel = 0
        if previous is not None:
            travel = problem.transfer(index.factories, previous.work_centre, current.work_centre)
        if previous is not None and previous.end + travel == current.start:
            moved = f" and travels {travel} min to another factory" if travel else ""
            steps.append(
                f"{what} starts at {current.start}, when operation {previous.seq} "
                f"ends on {previous.work_centre}{moved}"
            )
            current = previous
            continue
        if current.seq == 0 and current.start == order.release:
            steps.append(f"{what} starts at {current.start}: the order's release")
            break
        blocker = _ending_at(index, current, current.start)
        if blocker is not None:
            steps.append(
                f"{what} starts at {current.start}, when {current.work_centre} is free of "
                f"order {blocker.order} operation {blocker.seq}"
            )
            current = blocker
            continue
        setup = index.setup[current.work_centre]
        mine = order.family
        changed_from = next(
            (
                a
                for a in index.by_centre[current.work_centre]
                if setup
                and a.end + setup == current.start
                and differ(index.orders[a.order].family, mine)
            ),
            None,
        )
        if changed_from is not None:
            steps.append(
                f"{what} starts at {current.start}, after {setup} min of changeover on "
                f"{current.work_centre} from order {changed_from.order} operation "
                f"{changed_from.seq} ({index.orders[changed_from.order].family} to {mine})"
            )
            current = changed_from
            continue
        opened = next((a for a, b in index.closed[current.work_centre] if b == current.start), None)
        if opened is not None:
            steps.append(
                f"{what} starts at {current.start}, when {current.work_centre} opens "
                f"(closed from {opened}: its factory's calendar)"
            )
            behind = _behind_the_closing(current, previous, travel, opened, index)
            if behind is None:
                break
            steps.append(behind[0])
            current = behind[1]
            continue
        if current.start == 0:
            steps.append(f"{what} starts at 0, the start of the horizon")
        else:
            steps.append(
                f"{what} starts at {current.start} with nothing to wait for: the plan keeps "
                "its time for other orders"
            )
        break
    return steps


def _ending_at(index: _Index, current: Assignment, minute: int) -> Assignment | None:
    """Another operation on ``current``'s work centre that ends at ``minute``."""
    return next(
        (a for a in index.by_centre[current.work_centre] if a.end == minute and a is not current),
        None,
    )


def _behind_the_closing(
    current: Assignment,
    previous: Assignment | None,
    travel: int,
    closed_at: int,
    index: _Index,
) -> tuple[str, Assignment] | None:
    """What kept ``current`` from starting before its work centre closed at ``closed_at``
    (it starts when it opens again): the step that says so and the assignment to follow,
    or None if it had open time before the closing that it did not take. ``travel`` is the
    transfer from ``previous``."""
    if previous is not None and closed_at <= previous.end + travel <= current.start:
        moved = f" and {travel} min of transfer" if travel else ""
        return (
            f"operation {previous.seq} ended at {previous.end} on {previous.work_centre}"
            f"{moved}, after {current.work_centre} closed at {closed_at}",
            previous,
        )
    busy = _ending_at(index, current, closed_at)
    if busy is None:
        return None
    return (
        f"{current.work_centre} was busy up to its closing at {closed_at} with order "
        f"{busy.order} operation {busy.seq}",
        busy,
    )
