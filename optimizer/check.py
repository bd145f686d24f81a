"""One invariant checker for every plan, whoever made it: each operation planned once on an
eligible work centre for its duration, routing order (and transfers) kept, nothing before
its release, nothing in a work centre's closed time, frozen operations where they were,
no work centre running more operations at once than its capacity, and a changeover's
gap between operations of different families on a line that changes over. A split order's
lots each go through the routing in order, and on every operation they add up to the
order's pieces, none below its minimum lot."""

from __future__ import annotations

from collections import defaultdict

from optimizer.lots import lot_minutes
from optimizer.problem import Assignment, Order, Plan, Problem, changeovers


def violations(problem: Problem, plan: Plan) -> list[str]:
    found: list[str] = []
    planned: dict[tuple[str, int], list[Assignment]] = defaultdict(list)
    for a in plan.assignments:
        planned[(a.order, a.seq)].append(a)
    capacity = {w.id: w.capacity for w in problem.work_centres}
    factories = problem.factory_of()
    for order in problem.orders:
        ops = [planned.pop((order.id, seq), []) for seq in range(len(order.operations))]
        lot_set = sorted({a.lot for op in ops for a in op}) or [0]
        split = len(lot_set) > 1
        if split:
            found += _lots_add_up(order, ops)
        for lot in lot_set:
            lot_ops = [[a for a in op if a.lot == lot] for op in ops]
            found += _chain(problem, factories, order, lot_ops, split)
    closed = {w.id: w.closed for w in problem.work_centres}
    for a in plan.assignments:
        for shut_from, shut_to in closed.get(a.work_centre, []):
            if a.start < shut_to and shut_from < a.end:
                found.append(
                    f"order {a.order} operation {a.seq} runs on {a.work_centre} from {a.start} "
                    f"to {a.end}, but it is closed from {shut_from} to {shut_to}"
                )

    where = {(a.order, a.seq, a.lot): a for a in plan.assignments}
    for f in problem.frozen:
        now = where.get((f.order, f.seq, f.lot))
        if now is not None and (now.work_centre, now.start) != (f.work_centre, f.start):
            found.append(
                f"frozen order {f.order} operation {f.seq} moved from {f.work_centre} at "
                f"{f.start} to {now.work_centre} at {now.start}"
            )
    for (order_id, seq), extra in planned.items():
        found.append(f"{len(extra)} assignment(s) for unknown operation {order_id}/{seq}")
    by_centre: dict[str, list[Assignment]] = defaultdict(list)
    for a in plan.assignments:
        by_centre[a.work_centre].append(a)
    for centre, items in by_centre.items():
        # Sweep: +1 at each start, -1 at each end (ends first at the same minute).
        events = sorted([(a.start, 1) for a in items] + [(a.end, -1) for a in items])
        running = 0
        for minute, delta in events:
            running += delta
            if running > capacity.get(centre, 1):
                found.append(f"{centre} runs {running} operations at minute {minute}")
                break
    family = {o.id: o.family for o in problem.orders}
    setup = {w.id: w.changeover for w in problem.work_centres}
    for before, after in changeovers(problem, plan.assignments):
        gap = after.start - before.end
        if gap < setup[before.work_centre]:
            found.append(
                f"{before.work_centre} changes over from order {before.order} "
                f"({family[before.order]}) to order {after.order} ({family[after.order]}) in "
                f"{gap} min, not {setup[before.work_centre]}"
            )
    return found


def _lots_add_up(order: Order, ops: list[list[Assignment]]) -> list[str]:
    """Every operation of a split order runs the same lots, whose pieces make the order."""
    found = []
    lots = sorted(a.lot for a in ops[0])
    for seq, op in enumerate(ops):
        if sorted(a.lot for a in op) != lots:
            found.append(
                f"order {order.id} operation {seq} runs lots {sorted(a.lot for a in op)}, "
                f"not {lots}"
            )
        pieces = sum(a.quantity for a in op)
        if pieces != order.quantity:
            found.append(
                f"order {order.id} operation {seq}: its lots make {pieces} pieces, "
                f"not {order.quantity}"
            )
        small = [a.lot for a in op if a.quantity < order.min_lot]
        if small:
            found.append(
                f"order {order.id} operation {seq}: lots {small} are below the minimum "
                f"lot of {order.min_lot}"
            )
    return found


def _chain(
    problem: Problem,
    factories: dict[str, str],
    order: Order,
    ops: list[list[Assignment]],
    split: bool,
) -> list[str]:
    """One lot (or the whole order) through the routing: each operation once, on an
    eligible work centre for its duration, after its release and its predecessor."""
    found: list[str] = []
    previous_end, came_from = order.release, None
    for seq, (op, mine) in enumerate(zip(order.operations, ops, strict=True)):
        if len(mine) != 1:
            found.append(f"order {order.id} operation {seq} is planned {len(mine)} times")
            continue
        a = mine[0]
        what_op = f"order {order.id} operation {seq}" + (f" lot {a.lot}" if split else "")
        modes = {m.work_centre: m for m in op.modes}
        if a.work_centre not in modes:
            found.append(f"{what_op}: {a.work_centre} is not eligible")
        else:
            mode = modes[a.work_centre]
            minutes = lot_minutes(mode, a.quantity, order.quantity) if split else mode.minutes
            if a.end - a.start != minutes:
                found.append(
                    f"{what_op} lasts {a.end - a.start} min on {a.work_centre}, not {minutes}"
                )
        travel = 0
        if came_from is not None and a.work_centre in factories:
            travel = problem.transfer(factories, came_from, a.work_centre)
        if a.start < previous_end + travel:
            what = "its release" if seq == 0 else "the previous operation ends"
            if travel:
                what += f" and {travel} min of transfer"
            found.append(f"{what_op} starts at {a.start}, before {what} ({previous_end + travel})")
        previous_end, came_from = a.end, a.work_centre
    return found
