"""The scheduling problem and its plan, in integer minutes from the horizon's start.

Pure data: the scheduler (``optimizer.cpsat``), the greedy dispatcher (``optimizer.greedy``),
the invariant checker (``optimizer.check``) and the benchmark readers
(``optimizer.instances``) all speak it. Nothing here knows a database or Temporal.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from optimizer.calendar import open_minutes


class Mode(BaseModel):
    """One way to run an operation: on this work centre, taking this long."""

    work_centre: str
    minutes: int = Field(ge=0)
    # The part of ``minutes`` every lot pays again when the order is split into lots (the
    # line's setup); the rest is run time, in proportion to the lot's pieces.
    setup_minutes: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _setup_within_minutes(self) -> Mode:
        if self.setup_minutes > self.minutes:
            raise ValueError(
                f"setup_minutes {self.setup_minutes} is longer than minutes {self.minutes}"
            )
        return self


class Operation(BaseModel):
    """One step of an order's routing. Steps run in list order, each after the last ends."""

    name: str = ""
    modes: list[Mode] = Field(min_length=1)


class Order(BaseModel):
    id: str
    operations: list[Operation] = Field(min_length=1)
    release: int = Field(default=0, ge=0, description="Earliest start of the first operation.")
    due: int | None = Field(default=None, ge=0, description="None: no due date.")
    weight: float = Field(default=1.0, ge=0, description="Cost of one minute late.")
    # What a work centre changes over for between orders (style and colour): "" for none.
    family: str = ""
    # Lot splitting (``optimizer.lots``): an order of ``quantity`` pieces with a
    # ``min_lot`` may go through its routing as up to ``Params.max_lots`` lots of at least
    # that many pieces, each lot on a work centre of its own choosing, so a big order can
    # be sewn in two factories at once. 0 for either: never split.
    quantity: int = Field(default=0, ge=0)
    min_lot: int = Field(default=0, ge=0)
    # Set by ``optimizer.lots.split`` on the lots it makes: the order they are lots of.
    lot_of: str = ""

    @property
    def group(self) -> str:
        """The order this is, or is a lot of: what due dates and KPIs are about."""
        return self.lot_of or self.id


class WorkCentre(BaseModel):
    id: str
    factory: str = ""
    capacity: int = Field(default=1, ge=1, description="Operations it runs at once.")
    cost_per_minute: float = Field(default=0.0, ge=0)
    # Minimum gap between two operations of different families, one after the other (a
    # colour or style change on a sewing line). Only on work centres of capacity 1: a pool
    # of parallel lanes has no single sequence to change over in. The gap is calendar time:
    # a changeover may fall into closed time (the setup crew works the shift change).
    changeover_minutes: int = Field(default=0, ge=0)
    # Closed time from its factory's calendar (nights, days off, holidays): sorted,
    # non-overlapping [start, end) intervals (``optimizer.calendar.closed_intervals``).
    # Nothing runs then, and an operation never spans closed time: one longer than the
    # longest open stretch must be split into lots first (the problem refuses it).
    closed: list[tuple[int, int]] = Field(default_factory=list)

    @property
    def changeover(self) -> int:
        """The gap this work centre keeps between families: 0 on a pool of lanes."""
        return self.changeover_minutes if self.capacity == 1 else 0

    def longest_open(self) -> int | None:
        """The longest open stretch between closed intervals; None if there are none."""
        if not self.closed:
            return None
        gaps = [self.closed[0][0]] + [
            b[0] - a[1] for a, b in zip(self.closed, self.closed[1:], strict=False)
        ]
        return max(gaps)


class Assignment(BaseModel):
    order: str
    seq: int
    work_centre: str
    start: int
    end: int
    # Which lot of the order's operation this is (0 when the order is not split), and its
    # pieces (0 when the order has no quantity or is not split).
    lot: int = 0
    quantity: int = 0


class Problem(BaseModel):
    work_centres: list[WorkCentre] = Field(min_length=1)
    orders: list[Order] = Field(min_length=1)
    # Operations already running or inside the frozen horizon: they stay exactly here.
    frozen: list[Assignment] = Field(default_factory=list)
    # The plan in force: a warm start, and moving its operations costs ``plan_changes``.
    previous: list[Assignment] = Field(default_factory=list)
    # Moving work between two factories (consecutive operations in different factories).
    transfer_minutes: int = Field(default=0, ge=0)
    transfer_cost: float = Field(default=0.0, ge=0, description="Per transfer.")

    @model_validator(mode="after")
    def _modes_name_known_work_centres(self) -> Problem:
        known = {w.id: w for w in self.work_centres}
        for order in self.orders:
            for seq, op in enumerate(order.operations):
                for mode in op.modes:
                    centre = known.get(mode.work_centre)
                    if centre is None:
                        raise ValueError(
                            f"order {order.id} operation {seq}: "
                            f"unknown work centre {mode.work_centre!r}"
                        )
                    longest = centre.longest_open()
                    if longest is not None and mode.minutes > longest:
                        raise ValueError(
                            f"order {order.id} operation {seq} needs {mode.minutes} min on "
                            f"{centre.id}, longer than its longest open stretch ({longest} "
                            "min): split it into lots"
                        )
        orders = {o.id: o for o in self.orders}
        for f in self.frozen:
            owner = orders.get(f.order)
            if owner is None or not 0 <= f.seq < len(owner.operations):
                raise ValueError(f"frozen {f.order}/{f.seq}: no such operation")
            minutes = {m.work_centre: m.minutes for m in owner.operations[f.seq].modes}
            if minutes.get(f.work_centre) != f.end - f.start:
                raise ValueError(
                    f"frozen {f.order}/{f.seq}: {f.work_centre} from {f.start} to {f.end} is "
                    "not one of its modes"
                )
        return self

    def horizon(self) -> int:
        """A time by which any schedule without idle waiting has ended."""
        latest_release = max([o.release for o in self.orders] + [f.end for f in self.frozen])
        longest = sum(max(m.minutes for m in op.modes) for o in self.orders for op in o.operations)
        transfers = sum(len(o.operations) - 1 for o in self.orders) * self.transfer_minutes
        return latest_release + longest + transfers

    def factory_of(self) -> dict[str, str]:
        return {w.id: w.factory for w in self.work_centres}

    def transfer(self, factories: dict[str, str], from_centre: str, to_centre: str) -> int:
        """Minutes between an operation on ``from_centre`` and the next on ``to_centre``."""
        return 0 if factories[from_centre] == factories[to_centre] else self.transfer_minutes


class Weights(BaseModel):
    """The objective: a weighted sum of these named terms (``terms_of`` computes them)."""

    weighted_tardiness: float = Field(default=1.0, ge=0)
    makespan: float = Field(default=0.0, ge=0)
    lead_time: float = Field(default=0.0, ge=0, description="Per minute, release to finish.")
    cost: float = Field(default=0.0, ge=0, description="Factory minutes and transfers.")
    changeovers: float = Field(default=0.0, ge=0, description="Per changeover.")
    plan_changes: float = Field(default=0.0, ge=0, description="Per moved operation.")


class Params(BaseModel):
    time_limit_s: float = Field(default=10.0, gt=0)
    workers: int = Field(default=2, ge=1)
    weights: Weights = Field(default_factory=Weights)
    seed: int = 0
    # Above this many operations the whole model is too big to search in seconds: the
    # plan is improved a neighbourhood of orders at a time (``optimizer.lns``). Where one
    # model stops paying, on live plans in 20 s (``c2b bench neighbourhoods``, seeds 1-3,
    # docs/scheduler.md): up to 640 operations it won or tied every plan, at about 950
    # one each way, at 1,275 the neighbourhoods by 2 %.
    full_model_operations: int = Field(default=1000, ge=1)
    neighbourhood_orders: int = Field(default=30, ge=1)
    neighbourhood_seconds: float = Field(default=1.5, gt=0)
    # Lots an order with a quantity and a minimum lot may be split into (1: none).
    max_lots: int = Field(default=1, ge=1)


class SolveStatus(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"  # a plan, not proven optimal within the time limit
    GREEDY = "greedy"  # the dispatcher's plan (the solver found nothing better)
    INFEASIBLE = "infeasible"


class Kpis(BaseModel):
    makespan: int
    weighted_tardiness: float
    total_tardiness: int
    max_tardiness: int
    on_time_pct: float
    mean_lead_time: float  # release to finish, minutes
    total_lead_time: int = 0  # the same, summed over orders
    cost: float = 0.0  # factory minutes at their cost, plus transfers
    transfers: int = 0
    changeovers: int = 0
    # Busy share (%) of each work centre's and factory's open capacity up to the makespan.
    utilisation: dict[str, float] = Field(default_factory=dict)
    factory_utilisation: dict[str, float] = Field(default_factory=dict)


class LateOrder(BaseModel):
    """A late order and the chain of what held it back (``optimizer.explain``)."""

    order: str
    due: int
    finish: int
    tardiness: int
    reasons: list[str]


class Plan(BaseModel):
    assignments: list[Assignment]
    status: SolveStatus
    objective: float
    best_bound: float
    terms: dict[str, float] = Field(description="Every objective term's value.")
    kpis: Kpis
    late_orders: list[LateOrder] = Field(default_factory=list)
    seconds: float = 0.0
    first_solution_seconds: float | None = Field(
        default=None, description="When the solver had its first plan (model building included)."
    )

    @property
    def gap(self) -> float:
        """Relative distance between the plan and the best proven bound (0 = optimal)."""
        if self.objective == 0:
            return 0.0
        return max(0.0, (self.objective - self.best_bound) / abs(self.objective))


class Progress(BaseModel):
    """What ``on_progress`` is told at least once a second while the solver runs."""

    seconds: float
    objective: float | None
    best_bound: float | None
    solutions: int


def groups_of(problem: Problem) -> list[Order]:
    """One order per customer order: the first of its lots stands for it (its lots share
    its release, due date and weight)."""
    seen: dict[str, Order] = {}
    for o in problem.orders:
        seen.setdefault(o.group, o)
    return list(seen.values())


def kpis_of(problem: Problem, assignments: list[Assignment]) -> Kpis:
    group = {o.id: o.group for o in problem.orders}
    orders = groups_of(problem)
    finish = {o.group: 0 for o in orders}
    for a in assignments:
        key = group.get(a.order, a.order)
        finish[key] = max(finish[key], a.end)
    tardiness = {
        o.group: max(0, finish[o.group] - o.due) if o.due is not None else 0 for o in orders
    }
    weighted = sum(o.weight * tardiness[o.group] for o in orders)
    with_due = [o for o in orders if o.due is not None]
    on_time = sum(1 for o in with_due if tardiness[o.group] == 0)
    makespan = max(finish.values(), default=0)
    lead_time = sum(finish[o.group] - o.release for o in orders)
    transfers = len(_transfers(problem, assignments))
    busy, open_minutes = _busy_and_open(problem, assignments, makespan)
    factory_busy: dict[str, int] = {}
    factory_open: dict[str, int] = {}
    for w in problem.work_centres:
        factory_busy[w.factory] = factory_busy.get(w.factory, 0) + busy[w.id]
        factory_open[w.factory] = factory_open.get(w.factory, 0) + open_minutes[w.id]
    return Kpis(
        makespan=makespan,
        weighted_tardiness=weighted,
        total_tardiness=sum(tardiness.values()),
        max_tardiness=max(tardiness.values(), default=0),
        on_time_pct=100.0 * on_time / len(with_due) if with_due else 100.0,
        mean_lead_time=lead_time / len(orders),
        total_lead_time=lead_time,
        cost=_cost(problem, assignments, transfers),
        transfers=transfers,
        changeovers=len(changeovers(problem, assignments)),
        utilisation={w.id: _pct(busy[w.id], open_minutes[w.id]) for w in problem.work_centres},
        factory_utilisation={f: _pct(factory_busy[f], factory_open[f]) for f in factory_busy},
    )


def worked(closed: list[tuple[int, int]], a: Assignment) -> int:
    """The minutes an assignment works: its span less the closed time it pauses over (none
    in the solver's own plans, where an operation never spans closed time; a plan timed on
    factory calendars, ``optimizer.retime``, has operations that run across nights)."""
    return open_minutes(closed, a.start, a.end)


def _pct(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def _busy_and_open(
    problem: Problem, assignments: list[Assignment], until: int
) -> tuple[dict[str, int], dict[str, int]]:
    """Busy minutes of each work centre, and its open capacity-minutes in [0, ``until``)."""
    busy = {w.id: 0 for w in problem.work_centres}
    closed = {w.id: w.closed for w in problem.work_centres}
    for a in assignments:
        busy[a.work_centre] += worked(closed[a.work_centre], a)
    capacity_minutes = {
        w.id: w.capacity * open_minutes(w.closed, 0, until) for w in problem.work_centres
    }
    return busy, capacity_minutes


def _transfers(problem: Problem, assignments: list[Assignment]) -> list[tuple[str, int]]:
    """(order, seq) of every operation that runs in another factory than its predecessor."""
    factories = problem.factory_of()
    # A lot follows its own predecessor: the same lot of the previous operation.
    where = {(a.order, a.seq, a.lot): a.work_centre for a in assignments}
    return [
        (order, seq)
        for (order, seq, lot), centre in where.items()
        if seq > 0
        and (order, seq - 1, lot) in where
        and factories[where[(order, seq - 1, lot)]] != factories[centre]
    ]


def _cost(problem: Problem, assignments: list[Assignment], transfers: int) -> float:
    per_minute = {w.id: w.cost_per_minute for w in problem.work_centres}
    closed = {w.id: w.closed for w in problem.work_centres}
    minutes = sum(worked(closed[a.work_centre], a) * per_minute[a.work_centre] for a in assignments)
    return float(minutes + transfers * problem.transfer_cost)


def changeovers(
    problem: Problem, assignments: list[Assignment]
) -> list[tuple[Assignment, Assignment]]:
    """Consecutive operations of different families on a work centre that changes over."""
    family = {o.id: o.family for o in problem.orders}
    lines = {w.id for w in problem.work_centres if w.changeover}
    by_centre: dict[str, list[Assignment]] = {}
    for a in assignments:
        if a.work_centre in lines:
            by_centre.setdefault(a.work_centre, []).append(a)
    pairs = []
    for items in by_centre.values():
        items.sort(key=lambda a: (a.start, a.end))
        for before, after in zip(items, items[1:], strict=False):
            if differ(family[before.order], family[after.order]):
                pairs.append((before, after))
    return pairs


def differ(a: str, b: str) -> bool:
    """Whether going from family ``a`` to ``b`` is a changeover ("" changes nothing)."""
    return bool(a) and bool(b) and a != b


def moved(problem: Problem, assignments: list[Assignment]) -> int:
    """Operations of the previous plan that are now elsewhere or at another time."""
    before = {(p.order, p.seq, p.lot): (p.work_centre, p.start) for p in problem.previous}
    return sum(
        1
        for a in assignments
        if (a.order, a.seq, a.lot) in before
        and before[(a.order, a.seq, a.lot)] != (a.work_centre, a.start)
    )


def terms_of(problem: Problem, assignments: list[Assignment], kpis: Kpis) -> dict[str, float]:
    return {
        "weighted_tardiness": kpis.weighted_tardiness,
        "makespan": float(kpis.makespan),
        "lead_time": float(kpis.total_lead_time),
        "cost": kpis.cost,
        "changeovers": float(kpis.changeovers),
        "plan_changes": float(moved(problem, assignments)),
    }


def objective_of(weights: Weights, terms: dict[str, float]) -> float:
    return float(sum(getattr(weights, name) * value for name, value in terms.items()))
