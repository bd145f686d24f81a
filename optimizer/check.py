"""One invariant checker for every plan, whoever made it: each operation planned once on an
eligible work centre for its duration, routing order (and transfers) kept, nothing before
its release, nothing in a work centre's closed time, frozen operations where they were,
no work centre running more operations at once than its capacity, and a changeover's
gap between operations of different families on a line that changes over."""

from __future__ import annotations

from collections import defaultdict

from optimizer.problem import Assignment, Plan, Problem, changeovers


def violations(problem: Problem, plan: Plan) -> list[str]:
    found: list[str] = []
    planned: dict[tuple[str, int], list[Assignment]] = defaultdict(list)
    for a in plan.assignments:
        planned[(a.order, a.seq)].append(a)
    capacity = {w.id: w.capacity for w in problem.work_centres}
    factories = problem.factory_of()
    for order in problem.orders:
        previous_end, came_from = order.release, None
        for seq, op in enumerate(order.operations):
            mine = planned.pop((order.id, seq), [])
            if len(mine) != 1:
                found.append(f"order {order.id} operation {seq} is planned {len(mine)} times")
                continue
            a = mine[0]
            minutes = {m.work_centre: m.minutes for m in op.modes}
            if a.work_centre not in minutes:
                found.append(f"order {order.id} operation {seq}: {a.work_centre} is not eligible")
            elif a.end - a.start != minutes[a.work_centre]:
                found.append(
                    f"order {order.id} operation {seq} lasts {a.end - a.start} min on "
                    f"{a.work_centre}, not {minutes[a.work_centre]}"
                )
            travel = 0
            if came_from is not None and a.work_centre in factories:
                travel = problem.transfer(factories, came_from, a.work_centre)
            if a.start < previous_end + travel:
                what = "its release" if seq == 0 else "the previous operation ends"
                if travel:
                    what += f" and {travel} min of transfer"
                found.append(
                    f"order {order.id} operation {seq} starts at {a.start}, before {what} "
                    f"({previous_end + travel})"
                )
            previous_end, came_from = a.end, a.work_centre
    closed = {w.id: w.closed for w in problem.work_centres}
    for a in plan.assignments:
        for shut_from, shut_to in closed.get(a.work_centre, []):
            if a.start < shut_to and shut_from < a.end:
                found.append(
                    f"order {a.order} operation {a.seq} runs on {a.work_centre} from {a.start} "
                    f"to {a.end}, but it is closed from {shut_from} to {shut_to}"
                )

    where = {(a.order, a.seq): a for a in plan.assignments}
    for f in problem.frozen:
        now = where.get((f.order, f.seq))
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
