"""Tabu search on the critical path, for plans whose only term is the makespan.

CP-SAT is strong at proving bounds and finds good plans fast, but on the larger job shops
of the public benchmarks it stalls a few per cent above the best known makespans within
its seconds. The local searches that hold those records work on the disjunctive graph
instead: a plan is a machine for every operation and an order of the operations on each
machine; its makespan is the longest path through the job arcs and the machine arcs; and
only moves on that critical path can shorten it. This module is such a search:

* **shift** an operation within a critical block (operations on the same machine, one
  right after the other on the critical path): an inner one to the block's front or back,
  or the first or last one into the block (Zhang et al.'s N7 neighbourhood, which holds
  Nowicki and Smutnicki's swaps of the first two and the last two);
* **reassign** a critical operation to another of its machines, at the place in that
  machine's order where the path through it is shortest (Mastrolilli and Gambardella's
  flexible job-shop move).

Each move is scored with an estimate from the current heads and tails (earliest start,
and longest path after the end), the best allowed one is made, and the plan is evaluated
exactly; a move that would undo a recent one is tabu, allowed only if it promises a
better plan than the best so far.
After a long run without improvement the search restarts from its best plan shaken by a
few random moves.

It runs on problems where the disjunctive graph is the whole story: every work centre
runs one operation at a time, never closes and never changes over, nothing moves between
factories and nothing is frozen (``applies``). Pure like the rest of ``optimizer``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from optimizer.problem import Assignment, Problem, Weights

# A move's reverse stays tabu for a random number of iterations in this range.
TENURE = (6, 14)
# Iterations without a better plan before the search restarts from its best one.
PATIENCE = 2500
# Random moves that shake the best plan at a restart.
SHAKE = 3


def applies(problem: Problem, weights: Weights) -> bool:
    """Whether the plan is all in the disjunctive graph and the makespan all that counts."""
    others = (
        weights.weighted_tardiness,
        weights.lead_time,
        weights.cost,
        weights.changeovers,
        weights.plan_changes,
    )
    return (
        weights.makespan > 0
        and not any(others)
        and not problem.frozen
        and problem.transfer_minutes == 0
        and all(w.capacity == 1 and not w.closed and not w.changeover for w in problem.work_centres)
    )


@dataclass
class _Shop:
    """The problem, numbered: operation i of the flattened orders, machine m."""

    keys: list[tuple[str, int]]  # (order, seq) of each operation
    machines: list[str]
    job_prev: list[int]  # the operation before in its order, or -1
    job_next: list[int]
    release: list[int]
    minutes: list[dict[int, int]]  # per operation: machine -> minutes


@dataclass
class _Plan:
    """A machine per operation and the order of operations on each machine. Never
    changed in place: a move makes a new one (``_tried``)."""

    machine: list[int]
    sequence: list[list[int]]

    def copy(self) -> _Plan:
        return _Plan(list(self.machine), [list(s) for s in self.sequence])


@dataclass
class _Times:
    """A plan's heads (earliest starts), tails (longest path after the end) and
    durations, its machine neighbours, and its makespan."""

    head: list[int]
    tail: list[int]
    duration: list[int]
    machine_prev: list[int]
    machine_next: list[int]
    makespan: int


@dataclass
class _Move:
    """A shift (within the operation's own machine) or a reassignment (to another)."""

    estimate: int
    op: int  # the operation that moves
    machine: int  # to this machine (its own for a shift)
    position: int  # at this place in the machine's order
    # What the move makes, looked up on the tabu list, and what making it puts there (its
    # reverse): ``(0, x, y)`` for x before y on their machine, ``(1, x, m)`` for x on m.
    makes: list[tuple[int, int, int]]
    forbids: list[tuple[int, int, int]]


def _shop(problem: Problem) -> _Shop:
    machines = [w.id for w in problem.work_centres]
    index = {m: i for i, m in enumerate(machines)}
    keys: list[tuple[str, int]] = []
    job_prev: list[int] = []
    job_next: list[int] = []
    release: list[int] = []
    minutes: list[dict[int, int]] = []
    for order in problem.orders:
        first = len(keys)
        for seq, op in enumerate(order.operations):
            i = len(keys)
            keys.append((order.id, seq))
            job_prev.append(i - 1 if seq > 0 else -1)
            job_next.append(i + 1 if seq < len(order.operations) - 1 else -1)
            release.append(order.release if i == first else 0)
            minutes.append({index[m.work_centre]: m.minutes for m in op.modes})
    return _Shop(keys, machines, job_prev, job_next, release, minutes)


def _plan_from(shop: _Shop, assignments: list[Assignment]) -> _Plan:
    index = {key: i for i, key in enumerate(shop.keys)}
    machine_index = {m: i for i, m in enumerate(shop.machines)}
    machine = [0] * len(shop.keys)
    on: list[list[tuple[int, int, int]]] = [[] for _ in shop.machines]
    for a in assignments:
        i = index[(a.order, a.seq)]
        m = machine_index[a.work_centre]
        machine[i] = m
        on[m].append((a.start, a.end, i))
    return _Plan(machine, [[i for _, _, i in sorted(items)] for items in on])


def _times(shop: _Shop, plan: _Plan) -> _Times | None:
    """Heads and tails by one pass over the graph in topological order; None if the
    machine orders make a cycle with the routings."""
    n = len(shop.keys)
    duration = [shop.minutes[i][plan.machine[i]] for i in range(n)]
    machine_prev = [-1] * n
    machine_next = [-1] * n
    for order in plan.sequence:
        for a, b in zip(order, order[1:], strict=False):
            machine_next[a] = b
            machine_prev[b] = a
    job_prev, job_next = shop.job_prev, shop.job_next
    waiting = [(job_prev[i] >= 0) + (machine_prev[i] >= 0) for i in range(n)]
    ready = [i for i in range(n) if waiting[i] == 0]
    head = list(shop.release)
    topological: list[int] = []
    while ready:
        i = ready.pop()
        topological.append(i)
        end = head[i] + duration[i]
        for j in (job_next[i], machine_next[i]):
            if j >= 0:
                if end > head[j]:
                    head[j] = end
                waiting[j] -= 1
                if waiting[j] == 0:
                    ready.append(j)
    if len(topological) < n:
        return None
    tail = [0] * n
    for i in reversed(topological):
        longest = 0
        j = job_next[i]
        if j >= 0:
            longest = tail[j] + duration[j]
        k = machine_next[i]
        if k >= 0 and tail[k] + duration[k] > longest:
            longest = tail[k] + duration[k]
        tail[i] = longest
    makespan = max(head[i] + duration[i] for i in range(n))
    return _Times(head, tail, duration, machine_prev, machine_next, makespan)


def _critical_path(shop: _Shop, t: _Times, rng: random.Random) -> list[int]:
    """One longest path, walked back from an operation that ends at the makespan; where
    two predecessors both hold an operation back, one is picked at random."""
    ends = [i for i in range(len(t.head)) if t.head[i] + t.duration[i] == t.makespan]
    i = rng.choice(ends)
    path = [i]
    while True:
        holding = [
            j
            for j in (shop.job_prev[i], t.machine_prev[i])
            if j >= 0 and t.head[j] + t.duration[j] == t.head[i]
        ]
        if not holding:
            break
        i = rng.choice(holding)
        path.append(i)
    path.reverse()
    return path


def _blocks(t: _Times, path: list[int]) -> list[list[int]]:
    """The path cut into runs of operations one right after the other on one machine."""
    blocks = [[path[0]]]
    for a, b in zip(path, path[1:], strict=False):
        if t.machine_next[a] == b:
            blocks[-1].append(b)
        else:
            blocks.append([b])
    return blocks


def _from_job(shop: _Shop, t: _Times, x: int) -> int:
    """The earliest ``x`` may start as far as its order goes: its predecessor's end, or the
    order's release."""
    jp = shop.job_prev[x]
    return max(shop.release[x], t.head[jp] + t.duration[jp] if jp >= 0 else 0)


def _to_job(shop: _Shop, t: _Times, x: int) -> int:
    """The longest path after ``x`` through the rest of its order."""
    jn = shop.job_next[x]
    return t.tail[jn] + t.duration[jn] if jn >= 0 else 0


def _segment_estimate(shop: _Shop, t: _Times, segment: list[int], a: int, b: int) -> int:
    """The longest path through the operations of ``segment`` in this new order on their
    machine (``a`` right before it, ``b`` right after, -1 for none), from the heads and
    tails around it."""
    d, head, tail = t.duration, t.head, t.tail
    heads = []
    end = head[a] + d[a] if a >= 0 else 0
    for x in segment:
        h = max(_from_job(shop, t, x), end)
        heads.append(h)
        end = h + d[x]
    longest = 0
    after = tail[b] + d[b] if b >= 0 else 0
    for x, h in zip(reversed(segment), reversed(heads), strict=True):
        q = max(_to_job(shop, t, x), after)
        longest = max(longest, h + d[x] + q)
        after = q + d[x]
    return longest


def _best_insertion(shop: _Shop, plan: _Plan, t: _Times, v: int, m: int) -> tuple[int, int]:
    """Where on machine ``m`` the path through ``v`` is shortest: (estimate, position)."""
    d, head, tail = t.duration, t.head, t.tail
    from_job, to_job = _from_job(shop, t, v), _to_job(shop, t, v)
    minutes = shop.minutes[v][m]
    order = plan.sequence[m]
    best = (1 << 62, 0)
    before_end = 0
    for position in range(len(order) + 1):
        after = tail[order[position]] + d[order[position]] if position < len(order) else 0
        estimate = max(from_job, before_end) + minutes + max(to_job, after)
        if estimate < best[0]:
            best = (estimate, position)
        if position < len(order):
            before_end = head[order[position]] + d[order[position]]
    return best


def _moves(shop: _Shop, plan: _Plan, t: _Times, path: list[int]) -> list[_Move]:
    moves = []
    for block in _blocks(t, path):
        k = len(block)
        if k < 2:
            continue
        order = plan.sequence[plan.machine[block[0]]]
        first = order.index(block[0])
        # (i, j): the block's i-th operation moves to its j-th place.
        shifts = {(i, 0) for i in range(1, k)} | {(i, k - 1) for i in range(k - 1)}
        shifts |= {(0, j) for j in range(1, k - 1)} | {(k - 1, j) for j in range(1, k - 1)}
        for i, j in sorted(shifts):
            low, high = min(i, j), max(i, j)
            segment = block[low : high + 1]
            x = block[i]
            if j < i:  # x goes forward, over block[j:i]
                new = [x, *segment[:-1]]
                made = [(0, x, y) for y in segment[:-1]]
                forbids = [(0, y, x) for y in segment[:-1]]
            else:  # x goes back, over block[i+1:j+1]
                new = [*segment[1:], x]
                made = [(0, y, x) for y in segment[1:]]
                forbids = [(0, x, y) for y in segment[1:]]
            a = block[low - 1] if low > 0 else t.machine_prev[block[0]]
            b = block[high + 1] if high < k - 1 else t.machine_next[block[-1]]
            moves.append(
                _Move(
                    _segment_estimate(shop, t, new, a, b),
                    x,
                    machine=plan.machine[x],
                    position=first + j,
                    forbids=forbids,
                    makes=made,
                )
            )
    for v in path:
        here = plan.machine[v]
        for m in shop.minutes[v]:
            if m == here:
                continue
            estimate, position = _best_insertion(shop, plan, t, v, m)
            # Tabu: putting v back on the machine it leaves.
            moves.append(
                _Move(
                    estimate,
                    v,
                    machine=m,
                    position=position,
                    forbids=[(1, v, here)],
                    makes=[(1, v, m)],
                )
            )
    return moves


def _tried(shop: _Shop, plan: _Plan, move: _Move) -> tuple[_Plan, _Times] | None:
    """A copy of the plan with the move made, and its times; None if that closes a cycle."""
    trial = plan.copy()
    trial.sequence[trial.machine[move.op]].remove(move.op)
    trial.sequence[move.machine].insert(move.position, move.op)
    trial.machine[move.op] = move.machine
    times = _times(shop, trial)
    return None if times is None else (trial, times)


def _assignments(shop: _Shop, plan: _Plan, t: _Times) -> list[Assignment]:
    return [
        Assignment(
            order=order,
            seq=seq,
            work_centre=shop.machines[plan.machine[i]],
            start=t.head[i],
            end=t.head[i] + t.duration[i],
        )
        for i, (order, seq) in enumerate(shop.keys)
    ]


@dataclass
class TabuResult:
    """The best plan found (None if nothing beat the start), and how the search went."""

    assignments: list[Assignment] | None
    makespan: int
    iterations: int
    restarts: int


def improve_makespan(
    problem: Problem,
    start: list[Assignment],
    seconds: float,
    *,
    seed: int = 0,
    stop: threading.Event | None = None,
    report: Callable[[int], None] | None = None,
    lower_bound: int = 0,
) -> TabuResult:
    """Search from the plan ``start`` for ``seconds`` (or until ``stop`` is set, or the
    makespan reaches ``lower_bound``); ``report`` hears the best makespan every second."""
    now = time.monotonic()
    deadline, reported = now + seconds, now
    rng = random.Random(seed)
    shop = _shop(problem)
    plan = _plan_from(shop, start)
    t = _times(shop, plan)
    if t is None:
        # Operations of no minutes at one instant can be read into a cycle: leave it be.
        return TabuResult(None, max(a.end for a in start), 0, 0)
    best_plan, best_t = plan, t
    started_makespan = t.makespan
    tabu: dict[tuple[int, int, int], int] = {}
    iteration = restarts = since_better = 0
    while best_t.makespan > lower_bound:
        now = time.monotonic()
        if now >= deadline or (stop is not None and stop.is_set()):
            break
        if report is not None and now - reported >= 1.0:
            report(best_t.makespan)
            reported = now
        iteration += 1
        since_better += 1
        if since_better > PATIENCE:
            plan, t = _shaken(shop, best_plan, best_t, rng)
            tabu.clear()
            since_better = 0
            restarts += 1
            continue
        moves = _moves(shop, plan, t, _critical_path(shop, t, rng))
        rng.shuffle(moves)  # ties go either way
        moves.sort(key=lambda mv: mv.estimate)
        made = None
        for move in moves:
            is_tabu = any(tabu.get(key, 0) > iteration for key in move.makes)
            if is_tabu and move.estimate >= best_t.makespan:
                continue
            tried = _tried(shop, plan, move)
            if tried is not None:  # else that machine order closes a cycle
                made = move, tried
                break
        if made is None:
            tabu.clear()  # every move tabu: forget and go on
            continue
        move, (plan, t) = made
        for key in move.forbids:
            tabu[key] = iteration + rng.randint(*TENURE)
        if t.makespan < best_t.makespan:
            best_plan, best_t = plan, t
            since_better = 0
    better = best_t.makespan < started_makespan
    return TabuResult(
        assignments=_assignments(shop, best_plan, best_t) if better else None,
        makespan=best_t.makespan,
        iterations=iteration,
        restarts=restarts,
    )


def _shaken(shop: _Shop, plan: _Plan, t: _Times, rng: random.Random) -> tuple[_Plan, _Times]:
    """The plan after a few random critical moves (each one kept only if it leaves no
    cycle)."""
    for _ in range(SHAKE):
        moves = _moves(shop, plan, t, _critical_path(shop, t, rng))
        if not moves:
            break
        tried = _tried(shop, plan, rng.choice(moves))
        if tried is not None:
            plan, t = tried
    return plan, t
