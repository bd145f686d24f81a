"""The CP-SAT scheduler: ``solve(problem, params, on_progress, stop) -> Plan``.

The model is the flexible job shop's: every operation has one optional interval per
eligible work centre and exactly one of them is chosen; a work centre runs no more than its
capacity at once (no-overlap when that is 1); each operation starts after its predecessor
ends (plus the transfer when it changes factory) and the first after the order's release;
closed time is a fixed interval on the work centre; a line that changes over gets a
circuit over its operations, whose arcs carry the changeover gap. The objective is the
weighted sum of named terms (``Weights``): weighted tardiness, makespan, lead time, cost
of factory minutes and transfers, changeovers and plan changes.

The solver starts from the best dispatching rule's plan (earliest due date or weighted
shortest work, ``optimizer.greedy``) as a hint and never returns a worse plan than it: if
it finds nothing better in time, that plan comes back. Where the makespan is all that
counts and the disjunctive graph is the whole problem (the public benchmarks), the tabu
search of ``optimizer.tabu`` runs beside it.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ortools.sat.python import cp_model

from optimizer import lots, tabu
from optimizer.evaluate import plan_of
from optimizer.greedy import best_dispatch
from optimizer.lns import Outcome, improve, use_neighbourhoods
from optimizer.problem import (
    Assignment,
    Params,
    Plan,
    Problem,
    Progress,
    SolveStatus,
    differ,
    groups_of,
)

# CP-SAT wants integer coefficients: weights are scaled by this and rounded.
WEIGHT_SCALE = 100


class _Watch(cp_model.CpSolverSolutionCallback):
    """Records each better solution. Runs on the solver's thread: it only records."""

    def __init__(self, started: float) -> None:
        super().__init__()
        self.started = started
        self.first_at: float | None = None
        self.lock = threading.Lock()
        self.objective: float | None = None
        self.bound: float | None = None
        self.solutions = 0

    def on_solution_callback(self) -> None:
        with self.lock:
            if self.first_at is None:
                self.first_at = round(time.monotonic() - self.started, 3)
            self.objective = self.objective_value
            self.bound = self.best_objective_bound
            self.solutions += 1


def solve(
    problem: Problem,
    params: Params | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    start: Plan | None = None,
) -> Plan:
    """The best plan found within ``params.time_limit_s``. ``on_progress`` hears the best
    objective and bound at least every second; setting ``stop`` ends the search early and
    returns its best plan so far. A problem larger than ``params.full_model_operations``
    is improved neighbourhood by neighbourhood (``optimizer.lns``) instead of as a whole.
    ``start`` is ``best_dispatch(problem, params)`` if the caller has made it already."""
    params = params or Params()
    lotted = lots.split(problem, params.max_lots) if params.max_lots > 1 else None
    if lotted is not None:
        return _solve_in_lots(problem, lotted, params, on_progress, stop, start)
    started = time.monotonic()
    # The best dispatching rule's plan: the start, and what is returned if nothing beats it.
    greedy = start if start is not None else best_dispatch(problem, params)
    if on_progress is not None:  # a plan to stop at, from the first report on
        on_progress(
            Progress(
                seconds=round(time.monotonic() - started, 3),
                objective=greedy.objective,
                best_bound=None,
                solutions=0,
            )
        )
    if tabu.applies(problem, params.weights):
        # A makespan-only job shop, of any size: the neighbourhoods pick late orders, and
        # here no order is late, only the plan long.
        outcome = _side_by_side(problem, params, greedy, started, on_progress, stop)
    elif use_neighbourhoods(problem, params):
        return improve(problem, params, greedy, search, started, on_progress, stop)
    else:
        outcome = search(
            problem,
            params,
            greedy,
            params.time_limit_s,
            started=started,
            stop=stop,
            tick=_ticker(started, on_progress, greedy) if on_progress is not None else None,
        )
    seconds = round(time.monotonic() - started, 3)
    if outcome.status == cp_model.INFEASIBLE:
        return greedy.model_copy(update={"status": SolveStatus.INFEASIBLE, "seconds": seconds})
    if outcome.assignments is None:
        return greedy.model_copy(update={"seconds": seconds})
    optimal = outcome.status == cp_model.OPTIMAL
    status = SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE
    plan = plan_of(problem, outcome.assignments, params.weights, status)
    if plan.objective > greedy.objective:
        return greedy.model_copy(update={"seconds": seconds})
    return plan.model_copy(
        update={
            "best_bound": plan.objective if optimal else min(outcome.bound, plan.objective),
            "seconds": seconds,
            "first_solution_seconds": outcome.first_at,
        }
    )


def _solve_in_lots(
    problem: Problem,
    lotted: lots.Lots,
    params: Params,
    on_progress: Callable[[Progress], None] | None,
    stop: threading.Event | None,
    start: Plan | None,
) -> Plan:
    """Solve with big orders split into lots (``optimizer.lots``); the plan comes back
    under the customer orders, each assignment numbered with its lot and pieces. The
    objective is the same either way: lots count by their customer order's last finish."""
    inner = solve(lotted.problem, params.model_copy(update={"max_lots": 1}), on_progress, stop)
    merged = lots.merge(problem, lotted, inner.assignments)
    plan = plan_of(problem, merged, params.weights, inner.status, explain=False)
    # Never worse than the dispatcher's plan without lots (each lot pays its setup again:
    # where nothing runs in parallel, splitting only costs).
    whole = start if start is not None else best_dispatch(problem, params)
    if whole.objective < plan.objective:
        return whole.model_copy(update={"seconds": inner.seconds})
    return plan.model_copy(
        update={
            "best_bound": inner.best_bound,
            "seconds": inner.seconds,
            "first_solution_seconds": inner.first_solution_seconds,
            "late_orders": lots.merge_late(lotted, inner.late_orders),
        }
    )


# Makespan-only problems in the disjunctive graph (the public benchmarks): the share of the
# time limit in which CP-SAT and the tabu search run side by side, each from the
# dispatcher's plan; CP-SAT then has the rest, from the better of their two plans.
SIDE_BY_SIDE = 1 / 2


def _side_by_side(
    problem: Problem,
    params: Params,
    greedy: Plan,
    started: float,
    on_progress: Callable[[Progress], None] | None,
    stop: threading.Event | None,
) -> Outcome:
    """CP-SAT beside ``optimizer.tabu`` (a thread of its own), then CP-SAT again from the
    better plan. The two fail differently: CP-SAT proves the small shops optimal in a
    second and leaves a poor region well, but stalls a few per cent above the best known
    makespans on the larger ones, where the tabu search's moves along the critical path
    keep shortening it; measured in ``docs/benchmarks.md``. While both run, three threads
    share the machine's cores with CP-SAT's workers."""
    limit, per_unit = params.time_limit_s, params.weights.makespan
    tabu_best: list[int] = []  # the tabu search's best makespan, every second
    halt = threading.Event()  # the tabu search's: set by ``stop``, or when CP-SAT is done

    def heard(progress: Progress) -> None:
        """CP-SAT's progress, with the tabu search's plan where that is the better."""
        assert on_progress is not None
        if tabu_best and (
            progress.objective is None or tabu_best[-1] * per_unit < progress.objective
        ):
            progress = progress.model_copy(update={"objective": tabu_best[-1] * per_unit})
        on_progress(progress)

    with ThreadPoolExecutor(1, thread_name_prefix="tabu") as pool:
        polishing = pool.submit(
            tabu.improve_makespan,
            problem,
            greedy.assignments,
            limit * SIDE_BY_SIDE,
            seed=params.seed,
            stop=halt,
            report=tabu_best.append,
        )
        try:
            first = search(
                problem,
                params,
                greedy,
                limit * SIDE_BY_SIDE,
                started=started,
                stop=stop,
                tick=_ticker(started, heard, greedy) if on_progress is not None else None,
            )
        finally:
            halt.set()
        polished = polishing.result()  # raises what the tabu search raised
    if first.status in (cp_model.OPTIMAL, cp_model.INFEASIBLE):
        return first
    best = first.assignments or greedy.assignments
    makespan = max(a.end for a in best)
    if polished.assignments is not None and polished.makespan < makespan:
        best, makespan = polished.assignments, polished.makespan
    rest_s = started + limit - time.monotonic()
    if rest_s <= 0 or (stop is not None and stop.is_set()):
        return Outcome(cp_model.FEASIBLE, best, first.bound, first.first_at)
    hint = plan_of(problem, best, params.weights, SolveStatus.FEASIBLE, explain=False)
    last = search(
        problem,
        params,
        hint,
        rest_s,
        started=started,
        stop=stop,
        tick=_ticker(started, on_progress, hint) if on_progress is not None else None,
    )
    if last.assignments is not None and max(a.end for a in last.assignments) < makespan:
        best = last.assignments
    # The last run's horizon ends at its hint's makespan, which no better plan passes: its
    # bound and its proof hold for the whole problem.
    status = cp_model.OPTIMAL if last.status == cp_model.OPTIMAL else cp_model.FEASIBLE
    return Outcome(status, best, max(first.bound, last.bound), first.first_at)


def _ticker(
    started: float, on_progress: Callable[[Progress], None], start_from: Plan
) -> Callable[[_Watch], None]:
    """What ``search`` calls every second: ``on_progress`` with the best plan so far, which
    is ``start_from`` (the plan a stop would return) until CP-SAT finds a better one. Its
    first solution can come late (23 s on a live plan of 150 orders before the leaner
    model of 2026-11-30), and until then a planner was told there was no plan at all."""

    def tick(watch: _Watch) -> None:
        with watch.lock:
            found = _unscaled(watch.objective)
            progress = Progress(
                seconds=round(time.monotonic() - started, 3),
                objective=start_from.objective
                if found is None
                else min(found, start_from.objective),
                best_bound=_unscaled(watch.bound),
                solutions=watch.solutions,
            )
        on_progress(progress)

    return tick


def search(
    problem: Problem,
    params: Params,
    hint: Plan,
    time_limit_s: float,
    *,
    started: float | None = None,
    reserved: dict[str, list[tuple[int, int]]] | None = None,
    stop: threading.Event | None = None,
    tick: Callable[[_Watch], None] | None = None,
) -> Outcome:
    """One CP-SAT run over ``problem`` from ``hint``. ``reserved`` time on a work centre
    is taken by one operation that is not in the problem (the rest of a plan, when only a
    neighbourhood is solved). ``tick`` is called every second from a thread of its own;
    ``stop`` is looked at as often."""
    started = time.monotonic() if started is None else started
    model, starts, ends, chosen = _build(problem, params, hint, reserved or {})
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = params.workers
    solver.parameters.random_seed = params.seed
    if reserved or not tabu.applies(problem, params.weights):
        # Presolve's probing costs seconds on the platform's problems and buys nothing in
        # the time a planner waits: on a live plan of 125 orders it took 5.4 s of a 20 s
        # solve, and without it the plan found was 12 times better (c2b bench
        # neighbourhoods, docs/scheduler.md). A neighbourhood gets a second or two: probing
        # alone took 1.7 s of that on a 1,000-order plan (bench/scenario.py). The public
        # makespan benchmarks keep it: their tables were measured with it.
        solver.parameters.cp_model_probing_level = 0
    watch = _Watch(started)
    done = threading.Event()

    def report() -> None:
        # From our own thread: the solver's callback may go quiet for long in the proof.
        while not done.wait(1.0):
            if stop is not None and stop.is_set():
                solver.stop_search()
            if tick is not None:
                tick(watch)

    reporter = threading.Thread(target=report, name="cpsat-progress", daemon=True)
    reporter.start()
    try:
        status = solver.solve(model, watch)
    finally:
        done.set()
        reporter.join()
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return Outcome(status=status)
    assignments = []
    for (order_id, seq), start in starts.items():
        centre = next(c for c, present in chosen[(order_id, seq)].items() if solver.value(present))
        assignments.append(
            Assignment(
                order=order_id,
                seq=seq,
                work_centre=centre,
                start=solver.value(start),
                end=solver.value(ends[(order_id, seq)]),
            )
        )
    return Outcome(
        status=status,
        assignments=assignments,
        bound=solver.best_objective_bound / WEIGHT_SCALE,
        first_at=watch.first_at,
    )


Key = tuple[str, int]


def _unscaled(value: float | None) -> float | None:
    return None if value is None else value / WEIGHT_SCALE


def _build(
    problem: Problem, params: Params, hint: Plan, reserved: dict[str, list[tuple[int, int]]]
) -> tuple[
    cp_model.CpModel,
    dict[Key, cp_model.IntVar],
    dict[Key, cp_model.IntVar],
    dict[Key, dict[str, cp_model.IntVar]],
]:
    model = cp_model.CpModel()
    # For tardiness, makespan and lead time, plans worth having end not much later than
    # the greedy one: a tight horizon keeps the domains small (the sum of all durations is
    # far too loose at scale). Cost and changeovers may be cheapest in a longer plan.
    horizon = problem.horizon()
    w = params.weights
    if w.cost == 0 and w.changeovers == 0:
        horizon = min(horizon, hint.kpis.makespan * 6 // 5 + 1)
    others = (w.weighted_tardiness, w.lead_time, w.cost, w.changeovers, w.plan_changes)
    if w.makespan > 0 and not any(others):
        # Makespan alone (the public benchmarks): no better plan ends after the hint's.
        horizon = min(horizon, hint.kpis.makespan)
    horizon = max(horizon, hint.kpis.makespan)
    starts: dict[Key, cp_model.IntVar] = {}
    ends: dict[Key, cp_model.IntVar] = {}
    chosen: dict[Key, dict[str, cp_model.IntVar]] = {}
    on_centre: dict[str, list[cp_model.IntervalVar]] = defaultdict(list)
    # Who may run on each work centre, with the literal that says it does.
    may_run: dict[str, list[tuple[Key, cp_model.IntVar]]] = defaultdict(list)
    costs: list[cp_model.LinearExpr] = []
    per_minute = {w.id: w.cost_per_minute for w in problem.work_centres}
    capacity = {w.id: w.capacity for w in problem.work_centres}
    finish: dict[str, cp_model.IntVar] = {}
    frozen = {(f.order, f.seq): f for f in problem.frozen}
    previous = {(p.order, p.seq): p for p in problem.previous}
    stays_put: list[cp_model.IntVar] = []
    durations: dict[Key, cp_model.IntVar] = {}
    factory_moves: dict[Key, cp_model.IntVar] = {}
    hinted = {(a.order, a.seq): a for a in hint.assignments}
    group = {o.id: o.group for o in problem.orders}
    hint_finish: dict[str, int] = defaultdict(int)  # per customer order (lots together)
    for a in hint.assignments:
        hint_finish[group[a.order]] = max(hint_finish[group[a.order]], a.end)
    factory_of = problem.factory_of()

    for order in problem.orders:
        previous_end: cp_model.IntVar | None = None
        for seq, op in enumerate(order.operations):
            key = (order.id, seq)
            shortest = min(m.minutes for m in op.modes)
            longest = max(m.minutes for m in op.modes)
            start = model.new_int_var(order.release, horizon, f"start_{order.id}_{seq}")
            end = model.new_int_var(order.release + shortest, horizon, f"end_{order.id}_{seq}")
            duration = model.new_int_var(shortest, longest, f"duration_{order.id}_{seq}")
            durations[key] = duration
            model.new_interval_var(start, duration, end, f"op_{order.id}_{seq}")
            presences: dict[str, cp_model.IntVar] = {}
            for mode in op.modes:
                present = model.new_bool_var(f"on_{order.id}_{seq}_{mode.work_centre}")
                interval = model.new_optional_fixed_size_interval_var(
                    start, mode.minutes, present, f"op_{order.id}_{seq}_{mode.work_centre}"
                )
                model.add(duration == mode.minutes).only_enforce_if(present)
                on_centre[mode.work_centre].append(interval)
                may_run[mode.work_centre].append((key, present))
                presences[mode.work_centre] = present
                price = round(
                    params.weights.cost * mode.minutes * per_minute[mode.work_centre] * WEIGHT_SCALE
                )
                if price:
                    costs.append(price * present)
            model.add_exactly_one(presences.values())
            if previous_end is not None:
                model.add(start >= previous_end)
                transfer_price = round(params.weights.cost * problem.transfer_cost * WEIGHT_SCALE)
                if problem.transfer_minutes or transfer_price:
                    last = chosen[(order.id, seq - 1)]
                    moves = _moves(model, factory_of, last, presences, f"moves_{order.id}_{seq}")
                    if moves is not None:
                        # Work that changes factory travels first (the same minutes
                        # between any two factories: Problem.transfer), and pays for it.
                        model.add(start >= previous_end + problem.transfer_minutes * moves)
                        if transfer_price:
                            costs.append(transfer_price * moves)
                        factory_moves[key] = moves
            starts[key], ends[key], chosen[key] = start, end, presences
            pinned = frozen.get(key)
            if pinned is not None:
                model.add(start == pinned.start)
                model.add(presences[pinned.work_centre] == 1)
            before = previous.get(key)
            if before is not None and params.weights.plan_changes > 0:
                # ``stays``: same work centre, same start as in the plan in force.
                stays = model.new_bool_var(f"stays_{order.id}_{seq}")
                model.add(start == before.start).only_enforce_if(stays)
                if before.work_centre in presences:
                    model.add_implication(stays, presences[before.work_centre])
                else:
                    model.add(stays == 0)
                stays_put.append(stays)
                same = (hinted[key].work_centre, hinted[key].start)
                model.add_hint(stays, same == (before.work_centre, before.start))
            previous_end = end
        assert previous_end is not None
        finish[order.id] = previous_end

    closed = {w.id: w.closed for w in problem.work_centres}
    for centre, intervals in on_centre.items():
        # Closed time takes the whole work centre.
        shut = [
            model.new_fixed_size_interval_var(a, min(b, horizon) - a, f"closed_{centre}_{a}")
            for a, b in closed[centre]
            if a < horizon
        ]
        # Work of operations outside this (sub-)problem takes one unit, where it is.
        taken = [
            model.new_fixed_size_interval_var(a, b - a, f"taken_{centre}_{a}")
            for a, b in reserved.get(centre, [])
            if a < horizon
        ]
        if capacity[centre] == 1:
            model.add_no_overlap(intervals + shut + taken)
        else:
            demands = [1] * len(intervals) + [capacity[centre]] * len(shut) + [1] * len(taken)
            model.add_cumulative(intervals + shut + taken, demands, capacity[centre])

    changeovers = _add_changeovers(model, problem, may_run, starts, ends, hint)
    finish = _by_customer_order(model, problem, finish, hint_finish, horizon)

    terms: list[cp_model.LinearExpr] = []
    customer_orders = groups_of(problem)
    if w.weighted_tardiness > 0:
        for order in customer_orders:
            if order.due is None or order.weight == 0:
                continue
            late = model.new_int_var(0, horizon, f"late_{order.group}")
            model.add(late >= finish[order.group] - order.due)  # minimising keeps it tight
            model.add_hint(late, max(0, hint_finish[order.group] - order.due))
            terms.append(round(w.weighted_tardiness * order.weight * WEIGHT_SCALE) * late)
    if w.makespan > 0:
        makespan = model.new_int_var(0, horizon, "makespan")
        for order_finish in finish.values():
            model.add(makespan >= order_finish)
        model.add_hint(makespan, hint.kpis.makespan)
        terms.append(round(w.makespan * WEIGHT_SCALE) * makespan)
    if w.lead_time > 0:
        # Release to finish of every order; the releases are constants.
        waited = cp_model.LinearExpr.sum(list(finish.values())) - sum(
            o.release for o in customer_orders
        )
        terms.append(round(w.lead_time * WEIGHT_SCALE) * waited)
    terms += costs
    if w.changeovers > 0 and changeovers:
        terms.append(round(w.changeovers * WEIGHT_SCALE) * cp_model.LinearExpr.sum(changeovers))
    if stays_put:
        moved = len(stays_put) - cp_model.LinearExpr.sum(stays_put)
        terms.append(round(w.plan_changes * WEIGHT_SCALE) * moved)
    model.minimize(sum(terms))

    # A complete hint (every variable the greedy plan fixes) lets CP-SAT start from it.
    for a in hint.assignments:
        key = (a.order, a.seq)
        model.add_hint(starts[key], a.start)
        model.add_hint(ends[key], a.end)
        model.add_hint(durations[key], a.end - a.start)
        for centre, present in chosen[key].items():
            model.add_hint(present, centre == a.work_centre)
        if key in factory_moves:
            came_from = hinted[(a.order, a.seq - 1)].work_centre
            model.add_hint(factory_moves[key], factory_of[came_from] != factory_of[a.work_centre])
    return model, starts, ends, chosen


def _moves(
    model: cp_model.CpModel,
    factory_of: dict[str, str],
    before: dict[str, cp_model.IntVar],
    here: dict[str, cp_model.IntVar],
    name: str,
) -> cp_model.IntVar | None:
    """A literal that is true when an operation runs in another factory than the one
    before it (each given by its modes' presence literals); None if they cannot differ.

    One constraint per factory the operation before may run in: ``moves >= before_in_f -
    here_in_f``, where each side is the sum of the presences of the modes in factory f
    (exactly one mode is present, so each sum is 0 or 1). Where the factories differ one of
    them forces it; where they are the same nothing does, and minimising leaves it false.
    It used to be one clause per pair of modes in different factories: on a live plan of
    100 orders over ten factories that was most of the model's 57,000 constraints, and
    presolve took 8 s of a 20 s solve before the first plan."""
    in_before: dict[str, list[cp_model.IntVar]] = defaultdict(list)
    in_here: dict[str, list[cp_model.IntVar]] = defaultdict(list)
    for centre, present in before.items():
        in_before[factory_of[centre]].append(present)
    for centre, present in here.items():
        in_here[factory_of[centre]].append(present)
    if len(in_before.keys() | in_here.keys()) == 1:
        return None  # one factory for both: nothing travels
    moves = model.new_bool_var(name)
    for factory, was_there in in_before.items():
        is_here = cp_model.LinearExpr.sum(in_here.get(factory, []))
        model.add(moves >= cp_model.LinearExpr.sum(was_there) - is_here)
    return moves


def _by_customer_order(
    model: cp_model.CpModel,
    problem: Problem,
    finish: dict[str, cp_model.IntVar],
    hint_finish: dict[str, int],
    horizon: int,
) -> dict[str, cp_model.IntVar]:
    """Each customer order's finish: its own, or the last of its lots'."""
    members: dict[str, list[cp_model.IntVar]] = defaultdict(list)
    for order in problem.orders:
        members[order.group].append(finish[order.id])
    grouped = {}
    for group, ends in members.items():
        if len(ends) == 1:
            grouped[group] = ends[0]
            continue
        last = model.new_int_var(0, horizon, f"finish_{group}")
        model.add_max_equality(last, ends)
        model.add_hint(last, hint_finish[group])
        grouped[group] = last
    return grouped


def _add_changeovers(
    model: cp_model.CpModel,
    problem: Problem,
    may_run: dict[str, list[tuple[Key, cp_model.IntVar]]],
    starts: dict[Key, cp_model.IntVar],
    ends: dict[Key, cp_model.IntVar],
    hint: Plan,
) -> list[cp_model.IntVar]:
    """On each line that changes over, a circuit through the operations that run there:
    an arc i -> j means j is next after i, and then j starts at least the changeover after
    i ends when their families differ (the OR-Tools sequence-dependent setup pattern).
    Returns the literals of the arcs that are changeovers."""
    family = {o.id: o.family for o in problem.orders}
    hinted = {(a.order, a.seq): a for a in hint.assignments}
    changeovers: list[cp_model.IntVar] = []
    for centre in problem.work_centres:
        setup = centre.changeover
        candidates = may_run.get(centre.id, [])
        if not setup:
            continue
        if len({family[key[0]] for key, _ in candidates} - {""}) < 2:
            continue  # one family or none: nothing ever changes over here
        # The greedy plan's sequence on this line, as a hint for the arcs.
        sequence = sorted(
            (hinted[key].start, i)
            for i, (key, _) in enumerate(candidates, start=1)
            if hinted[key].work_centre == centre.id
        )
        order = [i for _, i in sequence]
        follows = set(zip([0, *order], [*order, 0], strict=True))
        arcs: list[tuple[int, int, cp_model.LiteralT]] = []
        empty = model.new_bool_var(f"idle_{centre.id}")
        model.add_hint(empty, not order)
        arcs.append((0, 0, empty))
        for i, (key, present) in enumerate(candidates, start=1):
            arcs.append((i, i, ~present))  # not on this line: out of the circuit
            first = model.new_bool_var(f"first_{centre.id}_{i}")
            last = model.new_bool_var(f"last_{centre.id}_{i}")
            model.add_hint(first, (0, i) in follows)
            model.add_hint(last, (i, 0) in follows)
            arcs += [(0, i, first), (i, 0, last)]
            for j, (other, _) in enumerate(candidates, start=1):
                if i == j:
                    continue
                nxt = model.new_bool_var(f"next_{centre.id}_{i}_{j}")
                model.add_hint(nxt, (i, j) in follows)
                gap = setup if differ(family[key[0]], family[other[0]]) else 0
                model.add(starts[other] >= ends[key] + gap).only_enforce_if(nxt)
                arcs.append((i, j, nxt))
                if gap:
                    changeovers.append(nxt)
        model.add_circuit(arcs)
    return changeovers
