"""Readers for the public scheduling benchmarks (``../shared/benchmarks``, formats in its
README) into the same ``Problem`` the platform schedules: a job is an order, a machine a
work centre. Their objective is the makespan."""

from __future__ import annotations

from pathlib import Path

from optimizer.problem import Mode, Operation, Order, Params, Problem, Weights, WorkCentre

MAKESPAN = Weights(weighted_tardiness=0.0, makespan=1.0)


def makespan_params(time_limit_s: float, workers: int) -> Params:
    return Params(time_limit_s=time_limit_s, workers=workers, weights=MAKESPAN)


def _numbers(text: str, source: str) -> list[int]:
    try:
        return [int(tok) for tok in text.split()]
    except ValueError as err:
        raise ValueError(f"{source}: not a list of integers ({err})") from err


def read_jssp(text: str, source: str = "instance") -> Problem:
    """OR-Library job shop: ``n_jobs n_machines``, then per job ``machine time`` pairs in
    routing order; machines from 0."""
    values = _numbers(text, source)
    n_jobs, n_machines = values[0], values[1]
    expected = 2 + n_jobs * n_machines * 2
    if len(values) < expected:
        raise ValueError(
            f"{source}: {len(values)} numbers, a {n_jobs}x{n_machines} needs {expected}"
        )
    pos, orders = 2, []
    for j in range(n_jobs):
        ops = []
        for _ in range(n_machines):
            machine, minutes = values[pos], values[pos + 1]
            pos += 2
            ops.append(Operation(modes=[Mode(work_centre=f"m{machine}", minutes=minutes)]))
        orders.append(Order(id=f"j{j}", operations=ops))
    centres = [WorkCentre(id=f"m{m}") for m in range(n_machines)]
    return Problem(work_centres=centres, orders=orders)


def read_fjsp(text: str, source: str = "instance") -> Problem:
    """Brandimarte flexible job shop: ``n_jobs n_machines avg``, then per job ``n_ops`` and
    per operation ``k`` followed by ``k`` pairs ``machine time``; machines from 1."""
    header, _, body = text.strip().partition("\n")
    n_jobs, n_machines = _numbers(" ".join(header.split()[:2]), source)
    # The header's third field (mean machines per operation, e.g. 3.5) is not needed.
    values, pos, orders = _numbers(body, source), 0, []
    try:
        for j in range(n_jobs):
            n_ops = values[pos]
            pos += 1
            ops = []
            for _ in range(n_ops):
                k = values[pos]
                pos += 1
                modes = [
                    Mode(work_centre=f"m{values[pos + 2 * i]}", minutes=values[pos + 2 * i + 1])
                    for i in range(k)
                ]
                pos += 2 * k
                ops.append(Operation(modes=modes))
            orders.append(Order(id=f"j{j}", operations=ops))
    except IndexError as err:
        raise ValueError(f"{source}: ends in the middle of job {len(orders)}") from err
    centres = [WorkCentre(id=f"m{m}") for m in range(1, n_machines + 1)]
    return Problem(work_centres=centres, orders=orders)


def read_instance(path: Path, fmt: str) -> Problem:
    readers = {"jssp": read_jssp, "fjsp": read_fjsp}
    if fmt not in readers:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(readers)}")
    return readers[fmt](path.read_text(), str(path))
