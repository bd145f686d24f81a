"""The textbook CP-SAT flexible job-shop model, the yardstick for ours: one interval per
operation, one optional interval per eligible machine tied to it by a presence literal,
exactly one presence per operation, no-overlap per machine, routing order, minimise the
makespan. The form of OR-Tools' own flexible job-shop example, written out here; no warm
start, no other terms."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from optimizer.problem import Problem


@dataclass(frozen=True)
class TextbookResult:
    makespan: int | None
    lower_bound: int
    status: str
    seconds: float


def solve_textbook(problem: Problem, time_limit_s: float, workers: int) -> TextbookResult:
    started = time.monotonic()
    model = cp_model.CpModel()
    horizon = problem.horizon()
    intervals_per_machine: dict[str, list[cp_model.IntervalVar]] = defaultdict(list)
    job_ends: list[cp_model.IntVar] = []
    for order in problem.orders:
        previous_end: cp_model.IntVar | None = None
        for seq, op in enumerate(order.operations):
            low = min(m.minutes for m in op.modes)
            high = max(m.minutes for m in op.modes)
            start = model.new_int_var(0, horizon, f"s{order.id}_{seq}")
            duration = model.new_int_var(low, high, f"d{order.id}_{seq}")
            end = model.new_int_var(0, horizon, f"e{order.id}_{seq}")
            model.new_interval_var(start, duration, end, f"i{order.id}_{seq}")
            if previous_end is not None:
                model.add(start >= previous_end)
            previous_end = end
            if len(op.modes) == 1:
                mode = op.modes[0]
                interval = model.new_interval_var(start, duration, end, f"m{order.id}_{seq}")
                intervals_per_machine[mode.work_centre].append(interval)
                continue
            presences = []
            for alt, mode in enumerate(op.modes):
                present = model.new_bool_var(f"p{order.id}_{seq}_{alt}")
                alt_start = model.new_int_var(0, horizon, f"as{order.id}_{seq}_{alt}")
                alt_end = model.new_int_var(0, horizon, f"ae{order.id}_{seq}_{alt}")
                interval = model.new_optional_interval_var(
                    alt_start, mode.minutes, alt_end, present, f"ai{order.id}_{seq}_{alt}"
                )
                model.add(start == alt_start).only_enforce_if(present)
                model.add(duration == mode.minutes).only_enforce_if(present)
                model.add(end == alt_end).only_enforce_if(present)
                intervals_per_machine[mode.work_centre].append(interval)
                presences.append(present)
            model.add_exactly_one(presences)
        assert previous_end is not None
        job_ends.append(previous_end)
    for intervals in intervals_per_machine.values():
        model.add_no_overlap(intervals)
    makespan = model.new_int_var(0, horizon, "makespan")
    model.add_max_equality(makespan, job_ends)
    model.minimize(makespan)
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = workers
    status = solver.solve(model)
    found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
    return TextbookResult(
        makespan=int(solver.value(makespan)) if found else None,
        lower_bound=int(solver.best_objective_bound) if found else 0,
        status=solver.status_name(status).lower(),
        seconds=round(time.monotonic() - started, 3),
    )
