"""What-if scenarios: the live plan's problem from the database plus a planner's edits,
solved by the CP-SAT scheduler on the solver's own task queue, and applied as the new live
plan.

- ``read_snapshot`` reads what a scenario starts from, in one transaction.
- ``build_problem`` (pure) turns a snapshot and the edits into an ``optimizer`` problem.
- ``SolverActivities.solve_scenario`` runs on the solver queue: it solves, heartbeats and
  writes its progress every second, and keeps its best plan when it is cancelled.
- ``ScenarioActivities`` are the scenario workflow's database steps, apply among them.

The live plan works in its factories' shifts, and an operation pauses over the nights
(``optimizer.placement``). The CP-SAT model keeps every operation inside one open stretch,
which whole sewing orders do not fit, so a scenario is solved on the continuous clock and
its plan, and the dispatcher's, then timed on the calendars (``optimizer.retime``): every
choice of work centre and sequence stays, and the times, KPIs and the plan applied are
the calendar's. A period a factory or work centre is down is closed time in both.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlmodel import Session, col, select
from temporalio import activity

from activities.base import SessionFactory, add_event, business_error, translate_domain_errors
from activities.production import (
    TRANSFER_MINUTES,
    centre_closed_time,
    factory_closed_time,
    live_plan_for_update,
    place_into_plan,
    plan_slot_rows,
    routing_of,
)
from activities.rebase import Key, Slot, rebase
from models.errors import Conflict, DomainError, InvalidInput, NotFound
from models.queues import production_order_workflow_id
from models.rules import due_end
from models.scenarios import (
    STOPPED,
    ApplyInput,
    ApplyResult,
    CapacityEdit,
    DueDateEdit,
    Edit,
    FabricDelayEdit,
    FactoryDownEdit,
    FinishScenarioInput,
    LateReason,
    ObjectiveWeights,
    OrderShift,
    OvertimeEdit,
    PlanDiff,
    PlanKpis,
    RushOrderEdit,
    ScenarioProgress,
    ScenarioStatus,
    WorkCentreDownEdit,
    plan_collides,
    plan_moved,
    stored_period,
)
from models.schemas import (
    OPEN_ORDER_STATUSES,
    PlanStatus,
    ProductionOrderStatus,
    WorkOrderStatus,
)
from models.tables import (
    Event,
    Factory,
    Plan,
    PlanAssignment,
    ProductionOrder,
    RoutingStep,
    Scenario,
    Style,
    WorkCentre,
    WorkOrder,
)
from optimizer import cpsat
from optimizer.calendar import merged, open_minutes, opened
from optimizer.evaluate import plan_of
from optimizer.greedy import best_dispatch
from optimizer.placement import run_minutes
from optimizer.problem import (
    Assignment,
    Mode,
    Operation,
    Order,
    Params,
    Problem,
    Progress,
    SolveStatus,
    Weights,
)
from optimizer.problem import Plan as SolverPlan
from optimizer.problem import WorkCentre as SolverCentre
from optimizer.retime import retime

EDITS = TypeAdapter(list[Edit])
# Closed time far beyond any plan: with it, the open time after a down period counts as
# one long open stretch (``optimizer.problem.WorkCentre.longest_open``).
FAR_AWAY = 100_000_000
DONE_STATES = (WorkOrderStatus.COMPLETED,)
RUNNING_STATES = (WorkOrderStatus.CLAIMED, WorkOrderStatus.STARTED)


# ---------------------------------------------------------------- the snapshot


@dataclass(frozen=True)
class Step:
    """One routing step of an open order, with where the live plan has it."""

    seq: int
    kind: str
    setup_minutes: float
    standard_minutes: float
    # (work centre id, start, end) in the live plan; None if it is not in the plan.
    planned: tuple[int, datetime, datetime] | None
    state: str  # "done", "running" (claimed or started: frozen) or "open"
    # Pieces still to make at this step: its latest work order's (a make-up makes only the
    # shortfall); None before it has a work order: the order's quantity.
    quantity: int | None = None


@dataclass(frozen=True)
class OpenOrder:
    id: int
    style: str
    colour: str
    quantity: int
    due: datetime | None
    weight: float
    steps: list[Step]


@dataclass(frozen=True)
class Centre:
    id: int
    code: str
    factory: str
    out_of_use: bool  # its factory is down, or it is on a quality hold
    kinds: list[str]
    capacity: int
    efficiency: float
    cost_per_minute: float


@dataclass(frozen=True)
class Snapshot:
    origin: datetime
    plan_version: int
    plan_revision: int
    centres: list[Centre]
    orders: list[OpenOrder]
    # style code -> [(seq, kind, setup, standard minutes)], for rush orders
    routings: dict[str, list[tuple[int, str, float, float]]] = field(default_factory=dict)
    # work centre code -> its closed time (its factory's and its own) in minutes from
    # ``origin``
    calendars: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    # every slot of the live plan, done work's included: what an apply rebases from
    slots: dict[Key, Slot] = field(default_factory=dict)


def read_snapshot(session: Session, origin: datetime) -> Snapshot:
    """The live plan's open orders, their steps and the work centres, as of ``origin``."""
    plan = session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one_or_none()
    if plan is None:
        raise Conflict("there is no live plan yet")
    factories = {f.id: f for f in session.exec(select(Factory)).all()}
    rows = session.exec(select(WorkCentre).order_by(col(WorkCentre.id))).all()
    centres = [
        Centre(
            id=wc.id or 0,
            code=wc.code,
            factory=factories[wc.factory_id].code,
            out_of_use=factories[wc.factory_id].is_down or wc.on_hold,
            kinds=list(wc.operation_kinds),
            capacity=wc.capacity,
            efficiency=wc.efficiency,
            cost_per_minute=wc.cost_per_minute,
        )
        for wc in rows
    ]
    routings: dict[str, list[tuple[int, str, float, float]]] = {}
    for code, seq, kind, setup, standard in session.execute(
        sa.select(
            col(Style.code),
            col(RoutingStep.seq),
            col(RoutingStep.operation_kind),
            col(RoutingStep.setup_minutes),
            col(RoutingStep.standard_minutes),
        )
        .join(Style, col(Style.id) == col(RoutingStep.style_id))
        .order_by(col(Style.code), col(RoutingStep.seq))
    ).all():
        routings.setdefault(code, []).append((seq, kind, setup, standard))
    planned = live_slots(session, plan)
    # Created orders have no place in the plan yet; done and cancelled ones none any more.
    open_statuses = [s for s in OPEN_ORDER_STATUSES if s != ProductionOrderStatus.CREATED]
    orders = session.exec(
        select(ProductionOrder)
        .where(col(ProductionOrder.status).in_(open_statuses))
        .order_by(col(ProductionOrder.id))
    ).all()
    # The latest work order of each (order, seq) says how far the step is: the open
    # orders' only, not every work order the platform ever made.
    latest: dict[tuple[int, int], tuple[WorkOrderStatus, int]] = {}
    for order_id, seq, status, quantity in session.execute(
        sa.select(
            col(WorkOrder.production_order_id),
            col(WorkOrder.seq),
            col(WorkOrder.status),
            col(WorkOrder.quantity),
        )
        .join(ProductionOrder, col(ProductionOrder.id) == col(WorkOrder.production_order_id))
        .where(col(ProductionOrder.status).in_(open_statuses))
        .order_by(col(WorkOrder.id))
    ).all():
        latest[(order_id, seq)] = (status, quantity)
    result = []
    for o in orders:
        oid = o.id or 0
        steps = []
        for seq, kind, setup, standard in routings.get(o.style_code, []):
            status, quantity = latest.get((oid, seq), (None, None))
            state = (
                "done"
                if status in DONE_STATES
                else "running"
                if status in RUNNING_STATES
                else "open"
            )
            steps.append(Step(seq, kind, setup, standard, planned.get((oid, seq)), state, quantity))
        if not any(s.planned for s in steps):
            continue  # not placed yet: its own workflow will place it
        due = due_end(o.due_date) if o.due_date else None
        result.append(
            OpenOrder(oid, o.style_code, o.colour, o.quantity, due, float(o.priority), steps)
        )
    closed_of = factory_closed_time(session, origin)
    calendars = {wc.code: centre_closed_time(closed_of, wc, origin) for wc in rows}
    return Snapshot(
        origin, plan.version, plan.revision, centres, result, routings, calendars, planned
    )


def live_slots(session: Session, plan: Plan) -> dict[Key, Slot]:
    """The slots of ``plan``'s orders not closed, by (production order id, routing seq).

    A shipped order's slots leave the live plan as it ships and a cancelled one's are
    freed; any a closed order still has there (a ship racing an apply copies them into
    the new plan) are history, which neither a scenario's snapshot nor the plan it
    applies carries. Read whole, they grew with every order ever shipped, and so did
    every scenario's snapshot, its stored base and its apply."""
    rows = session.execute(
        plan_slot_rows(plan)
        .join(ProductionOrder, col(ProductionOrder.id) == col(PlanAssignment.production_order_id))
        .where(col(ProductionOrder.status).in_(OPEN_ORDER_STATUSES))
    ).all()
    return {(order_id, seq): Slot(wc, start, end) for order_id, seq, wc, start, end in rows}


def _unheld_orders_placed_since(
    session: Session, base: dict[Key, Slot], live: dict[Key, Slot]
) -> set[int]:
    """Orders in the live plan that the scenario's snapshot did not have, and whose work
    nobody has claimed yet: an apply may place them again."""
    since = {order_id for order_id, _ in live} - {order_id for order_id, _ in base}
    if not since:
        return set()
    held = session.execute(
        sa.select(col(WorkOrder.production_order_id)).where(
            col(WorkOrder.production_order_id).in_(since),
            col(WorkOrder.status).in_([*RUNNING_STATES, *DONE_STATES]),
        )
    ).scalars()
    return since - set(held)


def _keep_period(
    session: Session,
    entity: str,
    row: Factory | WorkCentre,
    kind: str,
    edit: OvertimeEdit | FactoryDownEdit | WorkCentreDownEdit,
    actor: str,
    scenario_id: int | None,
) -> None:
    """The edit's period added to the row's ``overtime`` or ``downtime`` (ISO, UTC); the
    periods already over leave the list (their events keep them)."""
    period = stored_period(edit.start, edit.end)
    periods: list[list[str]] = getattr(row, kind)
    if period in periods:
        return
    now = datetime.now(UTC)
    setattr(row, kind, [*(p for p in periods if datetime.fromisoformat(p[1]) > now), period])
    add_event(
        session,
        entity,
        row.id or 0,
        kind,
        actor,
        start=period[0],
        end=period[1],
        scenario_id=scenario_id,
    )


def down_periods(
    session: Session, edits: list[Any], centres: list[WorkCentre]
) -> dict[int, list[tuple[datetime, datetime]]]:
    """Per work centre id, the periods the ``edits`` (models.scenarios.Edit) take it down."""
    factory_ids = {f.code: f.id for f in session.exec(select(Factory)).all()}
    down: dict[int, list[tuple[datetime, datetime]]] = {}
    for edit in edits:
        if isinstance(edit, FactoryDownEdit):
            hit = [wc for wc in centres if wc.factory_id == factory_ids[edit.factory]]
        elif isinstance(edit, WorkCentreDownEdit):
            hit = [wc for wc in centres if wc.code == edit.work_centre]
        else:
            continue
        for wc in hit:
            down.setdefault(wc.id or 0, []).append((edit.start, edit.end))
    return down


def base_of(scenario: Scenario) -> dict[Key, Slot]:
    """The live plan's slots the scenario saw (``Scenario.base_slots``)."""
    return {
        (order_id, seq): Slot(wc_id, datetime.fromisoformat(start), datetime.fromisoformat(end))
        for order_id, seq, wc_id, start, end in scenario.base_slots
    }


def planned_of(scenario: Scenario, centres: dict[str, WorkCentre]) -> dict[Key, Slot]:
    """The scenario's slots of real orders (a rush order is a what-if: a team's pick makes
    it real)."""
    origin = scenario.origin
    assert origin is not None
    return {
        (int(key), seq): Slot(
            centres[code].id or 0,
            origin + timedelta(minutes=start),
            origin + timedelta(minutes=end),
        )
        for key, seq, code, start, end in scenario.assignments
        if not str(key).startswith("rush")
    }


# ---------------------------------------------------------------- the problem


@dataclass(frozen=True)
class Clock:
    """The scenario's clock: whole minutes from ``origin``."""

    origin: datetime

    def minute(self, at: datetime) -> int:
        return math.ceil((at - self.origin).total_seconds() / 60)

    def at(self, minute: int) -> datetime:
        return self.origin + timedelta(minutes=minute)


@dataclass(frozen=True)
class Built(Clock):
    # What the solver solves: the continuous clock, each mode's minutes stretched by its
    # factory's open share (``stretched``).
    problem: Problem
    # order key -> the routing seq of each of its problem operations
    seqs: dict[str, list[int]]
    # The same orders in working minutes, with each work centre's closed time its factory's
    # calendar plus the edits' down periods: what plans are timed and judged on.
    real: Problem

    def timed(self, assignments: list[Assignment]) -> list[Assignment]:
        """A plan of the solver's clock on the factories' calendars (``optimizer.retime``)."""
        return retime(self.real, assignments)


# How far ahead a factory's open share (open minutes over all minutes) is measured.
SHARE_DAYS = 14


def stretched(problem: Problem, share: dict[str, float]) -> Problem:
    """``problem`` on a clock where a work centre open a third of the time takes three
    minutes for each minute of work: the solver, which knows no calendar, then weighs a
    two-shift factory against a one-shift one as the calendar will. An operation on the
    work centre the live plan has it on takes its live span instead, nights included, so
    that the live plan is a plan on this clock too and the solver can keep it. Frozen
    operations keep their minutes (they are where they are)."""
    frozen = {(f.order, f.seq) for f in problem.frozen}
    live = {(p.order, p.seq, p.work_centre): p.end - p.start for p in problem.previous}

    def minutes(order: str, index: int, mode: Mode) -> int:
        span = live.get((order, index, mode.work_centre))
        return span if span is not None else math.ceil(mode.minutes / share[mode.work_centre])

    def on_this_clock(order: str, index: int, op: Operation) -> Operation:
        if (order, index) in frozen:
            return op
        modes = [m.model_copy(update={"minutes": minutes(order, index, m)}) for m in op.modes]
        return op.model_copy(update={"modes": modes})

    orders = [
        o.model_copy(
            update={"operations": [on_this_clock(o.id, i, op) for i, op in enumerate(o.operations)]}
        )
        for o in problem.orders
    ]
    return problem.model_copy(update={"orders": orders})


def build_problem(snapshot: Snapshot, edits: list[Any]) -> Built:
    """The scheduling problem of the snapshot with ``edits`` (models.scenarios.Edit) made.
    An edit naming something unknown raises InvalidInput naming the edit."""
    origin = snapshot.origin
    clock = Clock(origin)
    seqs_of: dict[str, list[int]] = {}
    by_code = {c.code: c for c in snapshot.centres}
    factories = {c.factory for c in snapshot.centres}
    orders = {o.id: o for o in snapshot.orders}
    capacity = {c.code: c.capacity for c in snapshot.centres}
    efficiency = {c.code: c.efficiency for c in snapshot.centres}
    closed: dict[str, list[tuple[int, int]]] = {c.code: [] for c in snapshot.centres}
    due: dict[int, datetime | None] = {o.id: o.due for o in snapshot.orders}
    weight: dict[int, float] = {o.id: o.weight for o in snapshot.orders}
    release: dict[int, int] = {}
    rushes: list[RushOrderEdit] = []
    overtime: dict[str, list[tuple[int, int]]] = {}

    def shut(codes: list[str], start: datetime, end: datetime) -> None:
        a, b = max(0, clock.minute(start)), clock.minute(end)
        if b > a:
            for code in codes:
                closed[code].append((a, b))

    for i, edit in enumerate(edits):
        where = f"edits[{i}]"
        if isinstance(edit, FactoryDownEdit | OvertimeEdit) and edit.factory not in factories:
            raise InvalidInput(f"{where}: unknown factory {edit.factory!r}", field=where)
        if isinstance(edit, WorkCentreDownEdit | CapacityEdit) and edit.work_centre not in by_code:
            raise InvalidInput(f"{where}: unknown work centre {edit.work_centre!r}", field=where)
        if (
            isinstance(edit, DueDateEdit | FabricDelayEdit)
            and edit.production_order_id not in orders
        ):
            raise InvalidInput(
                f"{where}: production order {edit.production_order_id} is not open in the "
                "live plan",
                field=where,
            )
        if isinstance(edit, FactoryDownEdit):
            shut(
                [c.code for c in snapshot.centres if c.factory == edit.factory],
                edit.start,
                edit.end,
            )
        elif isinstance(edit, WorkCentreDownEdit):
            shut([edit.work_centre], edit.start, edit.end)
        elif isinstance(edit, OvertimeEdit):
            a, b = max(0, clock.minute(edit.start)), clock.minute(edit.end)
            for c in snapshot.centres:
                if c.factory == edit.factory and b > a:
                    overtime.setdefault(c.code, []).append((a, b))
        elif isinstance(edit, CapacityEdit):
            capacity[edit.work_centre] = edit.capacity or capacity[edit.work_centre]
            efficiency[edit.work_centre] = edit.efficiency or efficiency[edit.work_centre]
        elif isinstance(edit, DueDateEdit):
            due[edit.production_order_id] = edit.due or due[edit.production_order_id]
            if edit.weight is not None:
                weight[edit.production_order_id] = edit.weight
        elif isinstance(edit, FabricDelayEdit):
            release[edit.production_order_id] = max(0, clock.minute(edit.until))
        elif isinstance(edit, RushOrderEdit):
            if edit.style not in snapshot.routings:
                raise InvalidInput(f"{where}: unknown style {edit.style!r}", field=where)
            rushes.append(edit)

    usable = [c for c in snapshot.centres if not c.out_of_use]

    def modes(kind: str, setup: float, standard: float, quantity: int) -> list[Mode]:
        return [
            Mode(
                work_centre=c.code,
                minutes=run_minutes(setup, standard, quantity, efficiency[c.code]),
            )
            for c in usable
            if kind in c.kinds
        ]

    problem_orders: list[Order] = []
    frozen: list[Assignment] = []
    previous: list[Assignment] = []
    code_of = {c.id: c.code for c in snapshot.centres}
    for o in snapshot.orders:
        key = str(o.id)
        operations: list[Operation] = []
        seqs: list[int] = []
        ready = 0
        starts_frozen = False
        for step in o.steps:
            if step.state == "done":
                if step.planned is not None:
                    ready = max(ready, clock.minute(step.planned[2]))
                continue
            index = len(operations)
            if step.state == "running" and step.planned is not None:
                # Claimed or started: it stays where it is, from now if it began earlier.
                wc_id, start, end = step.planned
                a = max(0, clock.minute(start))
                b = max(a + 1, clock.minute(end))
                code = code_of[wc_id]
                operations.append(
                    Operation(name=step.kind, modes=[Mode(work_centre=code, minutes=b - a)])
                )
                frozen.append(Assignment(order=key, seq=index, work_centre=code, start=a, end=b))
                starts_frozen = starts_frozen or index == 0
            else:
                options = modes(
                    step.kind,
                    step.setup_minutes,
                    step.standard_minutes,
                    step.quantity or o.quantity,
                )
                if not options:
                    raise InvalidInput(
                        f"production order {o.id} operation {step.kind!r}: no work centre "
                        "outside the factories that are down can do it",
                        field="edits",
                    )
                operations.append(Operation(name=step.kind, modes=options))
                if step.planned is not None:
                    wc_id, start, end = step.planned
                    a = max(0, clock.minute(start))
                    b = a + max(1, clock.minute(end) - clock.minute(start))
                    previous.append(
                        Assignment(order=key, seq=index, work_centre=code_of[wc_id], start=a, end=b)
                    )
            seqs.append(step.seq)
        if not operations:
            continue  # every step done: waiting to ship
        order_due = due[o.id]
        problem_orders.append(
            Order(
                id=key,
                operations=operations,
                # A frozen first operation is where it is: nothing may start it later.
                release=0 if starts_frozen else max(release.get(o.id, 0), ready),
                due=max(0, clock.minute(order_due)) if order_due else None,
                weight=weight[o.id],
                family=f"{o.style}/{o.colour}",
            )
        )
        seqs_of[key] = seqs
    for n, rush in enumerate(rushes, start=1):
        key = f"rush-{n}"
        steps = snapshot.routings[rush.style]
        problem_orders.append(
            Order(
                id=key,
                operations=[
                    Operation(name=kind, modes=modes(kind, setup, standard, rush.quantity))
                    for _, kind, setup, standard in steps
                ],
                due=max(0, clock.minute(rush.due)),
                weight=rush.weight,
                family=f"{rush.style}/{rush.colour}",
            )
        )
        seqs_of[key] = [seq for seq, *_ in steps]
    if not problem_orders:
        raise Conflict("the live plan has no open orders to plan")
    centres = [
        SolverCentre(
            id=c.code,
            factory=c.factory,
            capacity=capacity[c.code],
            cost_per_minute=c.cost_per_minute,
            closed=sorted(closed[c.code]) + ([(FAR_AWAY, FAR_AWAY + 1)] if closed[c.code] else []),
        )
        for c in snapshot.centres
    ]
    problem = Problem(
        work_centres=centres,
        orders=problem_orders,
        frozen=frozen,
        previous=previous,
        transfer_minutes=TRANSFER_MINUTES,
    )
    # The factories' calendars with the overtime of the edits opened in them.
    calendars = {
        c.code: opened(snapshot.calendars.get(c.code, []), overtime.get(c.code, []))
        for c in snapshot.centres
    }
    horizon = SHARE_DAYS * 24 * 60
    share = {
        code: max(0.05, open_minutes(shut, 0, horizon) / horizon)
        for code, shut in calendars.items()
    }
    real = problem.model_copy(
        update={
            "work_centres": [
                w.model_copy(update={"closed": merged(calendars[w.id], closed[w.id])})
                for w in problem.work_centres
            ]
        }
    )
    return Built(origin, stretched(problem, share), seqs_of, real)


def dispatch_and_solve(
    problem: Problem,
    params: Params,
    on_progress: Callable[[Progress], None],
    stop: threading.Event,
) -> tuple[SolverPlan, SolverPlan]:
    """The dispatcher's plan, and the solver's plan started from it: the scenario reports
    both, and the dispatcher's is made once."""
    dispatched = best_dispatch(problem, params)
    return dispatched, cpsat.solve(problem, params, on_progress, stop, start=dispatched)


def weights_of(weights: ObjectiveWeights) -> Weights:
    return Weights(**weights.model_dump())


def kpis_of_plan(plan: SolverPlan, gap: float | None = None) -> PlanKpis:
    k = plan.kpis
    return PlanKpis(
        objective=round(plan.objective, 2),
        makespan_h=round(k.makespan / 60, 2),
        on_time_pct=round(k.on_time_pct, 1),
        total_tardiness_h=round(k.total_tardiness / 60, 2),
        max_tardiness_h=round(k.max_tardiness / 60, 2),
        mean_lead_time_h=round(k.mean_lead_time / 60, 2),
        cost=round(k.cost, 2),
        transfers=k.transfers,
        changeovers=k.changeovers,
        late_orders=len(plan.late_orders),
        status=plan.status.value,
        gap=round(gap, 4) if gap is not None else None,
    )


def finishes(assignments: list[Assignment]) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in assignments:
        out[a.order] = max(out.get(a.order, 0), a.end)
    return out


def diff_of(built: Built, live: list[Assignment], scenario: list[Assignment]) -> PlanDiff:
    """Orders of the live plan that finish earlier or later in the scenario, and how many
    of the live plan's operations it moves (work centre or start)."""
    before, after = finishes(live), finishes(scenario)
    shifts = [
        OrderShift(
            production_order_id=int(key),
            live_finish=built.at(before[key]),
            scenario_finish=built.at(after[key]),
            hours=round((after[key] - before[key]) / 60, 2),
        )
        for key in sorted(before, key=lambda k: int(k))
        if key in after and after[key] != before[key] and not key.startswith("rush")
    ]
    where = {(a.order, a.seq): (a.work_centre, a.start) for a in live}
    moved = sum(
        1
        for a in scenario
        if (a.order, a.seq) in where and where[(a.order, a.seq)] != (a.work_centre, a.start)
    )
    return PlanDiff(
        earlier=sorted((s for s in shifts if s.hours < 0), key=lambda s: s.hours),
        later=sorted((s for s in shifts if s.hours > 0), key=lambda s: -s.hours),
        operations_moved=moved,
        operations=len(where),
    )


# ---------------------------------------------------------------- the solve


class SolverActivities:
    """The solve, on the solver's own task queue (``c2b solver``)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    async def solve_scenario(self, scenario_id: int) -> str:
        """Solve the scenario and store its plan; the status it ends in. Heartbeats and
        stores its progress every second. Cancelled, it stops the search and keeps the
        best plan it has (``stopped_early``); then the cancellation goes on to the caller."""
        try:
            built, weights, time_limit = await asyncio.to_thread(self._prepare, scenario_id)
        except DomainError as err:
            raise business_error(err) from err
        params = Params(time_limit_s=time_limit, workers=2, weights=weights_of(weights))
        latest: list[Progress] = []
        stop = threading.Event()
        started = datetime.now(UTC)
        solving = asyncio.ensure_future(
            asyncio.to_thread(dispatch_and_solve, built.problem, params, latest.append, stop)
        )
        cancelled = False
        try:
            await self._report_until(solving, scenario_id, lambda: self._progress(latest, started))
        except asyncio.CancelledError:
            cancelled = True
            stop.set()  # CP-SAT stops within milliseconds and returns its best plan
        dispatched, plan = await solving
        final = ScenarioProgress(
            elapsed_s=round((datetime.now(UTC) - started).total_seconds(), 3),
            objective=plan.objective,
            best_bound=plan.best_bound,
            gap=round(plan.gap, 4),
            solutions=max([p.solutions for p in latest[-1:]] + [1]),
            at=datetime.now(UTC),
        )
        # Timing and judging the plans takes a second or more on a large plan: progress
        # goes on every second meanwhile (the solver's final figures, the clock running).
        storing = asyncio.ensure_future(
            asyncio.to_thread(
                self._store_plan, scenario_id, built, params, (dispatched, plan), cancelled, final
            )
        )
        await self._report_until(
            storing,
            scenario_id,
            lambda: final.model_copy(
                update={
                    "elapsed_s": round((datetime.now(UTC) - started).total_seconds(), 3),
                    "at": datetime.now(UTC),
                }
            ),
        )
        status = await storing
        if cancelled:
            raise asyncio.CancelledError
        return status

    async def _report_until(
        self, work: asyncio.Future[Any], scenario_id: int, progress: Callable[[], ScenarioProgress]
    ) -> None:
        """Heartbeat and store the progress every second until ``work`` is done."""
        while not work.done():
            await asyncio.wait({work}, timeout=1.0)
            now = progress()
            activity.heartbeat(now.model_dump(mode="json"))
            await asyncio.to_thread(self._store_progress, scenario_id, now)

    @staticmethod
    def _progress(latest: list[Progress], started: datetime) -> ScenarioProgress:
        now = datetime.now(UTC)
        elapsed = round((now - started).total_seconds(), 3)
        if not latest:
            return ScenarioProgress(elapsed_s=elapsed, at=now)
        p = latest[-1]
        gap = None
        if p.objective is not None and p.best_bound is not None and p.objective:
            gap = round(max(0.0, (p.objective - p.best_bound) / abs(p.objective)), 4)
        return ScenarioProgress(
            elapsed_s=elapsed,
            objective=p.objective,
            best_bound=p.best_bound,
            gap=gap,
            solutions=p.solutions,
            at=now,
        )

    def _prepare(self, scenario_id: int) -> tuple[Built, ObjectiveWeights, float]:
        with self._sessions() as session, session.begin():
            scenario = session.get(Scenario, scenario_id)
            if scenario is None:
                raise NotFound(f"scenario {scenario_id} not found")
            origin = datetime.now(UTC).replace(second=0, microsecond=0)
            try:
                snapshot = read_snapshot(session, origin)
                built = build_problem(snapshot, EDITS.validate_python(scenario.edits))
            except DomainError as err:
                failed = err
            else:
                scenario.status = ScenarioStatus.SOLVING
                scenario.origin = origin
                scenario.base_plan_version = snapshot.plan_version
                scenario.base_revision = snapshot.plan_revision
                scenario.base_slots = [
                    [order_id, seq, s.work_centre, s.start.isoformat(), s.end.isoformat()]
                    for (order_id, seq), s in sorted(snapshot.slots.items())
                ]
                weights = ObjectiveWeights.model_validate(scenario.weights)
                return built, weights, scenario.time_limit_s
            scenario.status = ScenarioStatus.FAILED
            scenario.error = failed.message
            scenario.finished_at = datetime.now(UTC)
        raise failed  # after the commit: the scenario says why it failed

    def _store_progress(self, scenario_id: int, progress: ScenarioProgress) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                sa.update(Scenario)
                .where(
                    col(Scenario.id) == scenario_id, col(Scenario.status) == ScenarioStatus.SOLVING
                )
                .values(progress=progress.model_dump(mode="json"))
            )

    def _store_plan(
        self,
        scenario_id: int,
        built: Built,
        params: Params,
        plans: tuple[SolverPlan, SolverPlan],
        stopped: bool,
        final: ScenarioProgress,
    ) -> str:
        """The scenario's plan, the dispatcher's and the live one, timed on the calendars and
        judged on the real problem, stored with the KPIs, the diff and the late orders."""
        dispatched, plan = plans
        problem = built.real
        live = [*problem.previous, *problem.frozen]
        live_problem = problem.model_copy(
            update={"orders": [o for o in problem.orders if not o.id.startswith("rush")]}
        )
        live_plan = plan_of(live_problem, live, params.weights, SolveStatus.FEASIBLE)
        greedy = plan_of(
            problem, built.timed(dispatched.assignments), params.weights, dispatched.status
        )
        # The plan kept is the timed one; the gap is the solver's, on its own clock. Timing
        # can turn the order of two plans: the dispatcher's is kept if it is the better.
        solver_gap = plan.gap
        plan = plan_of(problem, built.timed(plan.assignments), params.weights, plan.status)
        if greedy.objective < plan.objective:
            plan = greedy
        with self._sessions() as session, session.begin():
            scenario = session.get(Scenario, scenario_id)
            assert scenario is not None
            scenario.status = ScenarioStatus.DONE
            scenario.progress = final.model_dump(mode="json")
            scenario.stopped_early = stopped
            scenario.finished_at = datetime.now(UTC)
            scenario.kpis = kpis_of_plan(plan, solver_gap).model_dump(mode="json")
            scenario.live_kpis = kpis_of_plan(live_plan).model_dump(mode="json")
            scenario.greedy_kpis = kpis_of_plan(greedy).model_dump(mode="json")
            scenario.diff = diff_of(built, live, plan.assignments).model_dump(mode="json")
            scenario.late_orders = [
                LateReason(
                    order=late.order,
                    tardiness_h=round(late.tardiness / 60, 2),
                    reasons=late.reasons,
                ).model_dump(mode="json")
                for late in plan.late_orders
            ]
            scenario.assignments = [
                [a.order, built.seqs[a.order][a.seq], a.work_centre, a.start, a.end]
                for a in plan.assignments
            ]
            return scenario.status.value


# ---------------------------------------------------------------- database steps


class ScenarioActivities:
    """The scenario workflow's database steps (local activities, ``workflows.steps``)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    @activity.defn
    @translate_domain_errors
    def finish_scenario(self, inp: FinishScenarioInput) -> ScenarioStatus:
        """Record a scenario's end that its solve did not record: failed, cancelled before
        it had a plan, or expired unapplied. A scenario that has its plan is not cancelled
        by this (a stopped solve keeps it); the status it has now."""
        with self._sessions() as session, session.begin():
            scenario = session.get(Scenario, inp.scenario_id)
            if scenario is None:
                raise NotFound(f"scenario {inp.scenario_id} not found")
            stop_after_plan = scenario.status == ScenarioStatus.DONE and inp.error == STOPPED
            if scenario.status == ScenarioStatus.APPLIED or stop_after_plan:
                return scenario.status
            scenario.status = inp.status
            scenario.error = inp.error or scenario.error
            scenario.finished_at = scenario.finished_at or datetime.now(UTC)
            return scenario.status

    @activity.defn
    @translate_domain_errors
    def apply_scenario(self, inp: ApplyInput) -> ApplyResult:
        """Make the scenario's plan the live plan, rebased over what was placed or changed
        in the live plan since its snapshot (``activities.rebase``): orders placed since
        that collide with it, and whose work nobody holds, are placed again around it; any
        other collision, or another plan applied since, is a Conflict: run it again. The
        edits that are facts about the factories are kept first (``_keep_edits``).

        Work orders of moved operations follow: not yet released ones move in place;
        released ones nobody claimed are listed for their workflows to replace
        (``ProductionOrderWorkflow.plan_changed``); claimed ones stay where they are. Asked
        again after it was applied, it answers the same."""
        with self._sessions() as session, session.begin():
            scenario = session.get(Scenario, inp.scenario_id)
            if scenario is None:
                raise NotFound(f"scenario {inp.scenario_id} not found")
            if scenario.status == ScenarioStatus.APPLIED:
                return self._applied(session, scenario)
            if scenario.status != ScenarioStatus.DONE or scenario.origin is None:
                raise Conflict(
                    f"scenario {scenario.id} is {scenario.status.value}; only a finished "
                    "scenario can be applied"
                )
            plan = live_plan_for_update(session)  # takes the plan's lock by bumping it
            then = (scenario.base_plan_version, scenario.base_revision)
            now = (plan.version, plan.revision - 1)
            # A scenario from before base slots were kept cannot rebase.
            if plan.version != then[0] or (not scenario.base_slots and now != then):
                raise Conflict(plan_moved(scenario.id or 0, then, now))
            edits = EDITS.validate_python(scenario.edits)
            self._keep_edits(session, scenario, edits, inp.actor)  # before anything is placed
            centres = {wc.id or 0: wc for wc in session.exec(select(WorkCentre)).all()}
            centre_ids = {wc.code: wc for wc in centres.values()}
            live, base = live_slots(session, plan), base_of(scenario)
            try:
                rebased = rebase(
                    base,
                    live,
                    planned_of(scenario, centre_ids),
                    centres,
                    timedelta(minutes=TRANSFER_MINUTES),
                    movable=_unheld_orders_placed_since(session, base, live),
                    down=down_periods(session, edits, list(centres.values())),
                )
            except Conflict as collision:
                raise Conflict(
                    plan_collides(scenario.id or 0, then, now, collision.message)
                ) from None
            new = Plan(
                version=plan.version + 1,
                status=PlanStatus.LIVE,
                source=f"scenario {scenario.id}",
                revision=1,
            )
            plan.status = PlanStatus.SUPERSEDED
            session.flush()
            session.add(new)
            session.flush()
            session.add_all(
                PlanAssignment(
                    plan_id=new.id or 0,
                    production_order_id=order_id,
                    seq=seq,
                    work_centre_id=wc_id,
                    start=start,
                    end=end,
                )
                for (order_id, seq), (wc_id, start, end) in rebased.slots.items()
            )
            slots = dict(rebased.slots) | self._place_again(session, new, rebased.again, inp)
            changed = {key: s for key, s in slots.items() if live.get(key) != s}
            # As the diff counts: another work centre or start (not only another end).
            moved_ops = sum(1 for key, s in changed.items() if live.get(key, s)[:2] != s[:2])
            moved, to_replace = self._move_work_orders(session, changed, centre_ids, new.version)
            scenario.status = ScenarioStatus.APPLIED
            scenario.applied_at = datetime.now(UTC)
            add_event(
                session,
                "plan",
                new.id or 0,
                "applied",
                inp.actor,
                scenario_id=scenario.id,
                version=new.version,
                replaces_version=plan.version,
                operations_moved=moved_ops,
                operations_kept=len(rebased.kept),
                orders_placed_again=rebased.again,
                work_orders_moved=moved,
                work_orders_replaced=sum(len(ids) for ids in to_replace.values()),
                changes=sorted(to_replace.items()),
            )
            return ApplyResult(
                scenario_id=scenario.id or 0,
                plan_version=new.version,
                operations_moved=moved_ops,
                work_orders_moved=moved,
                work_orders_replaced=sum(len(ids) for ids in to_replace.values()),
                operations_kept=len(rebased.kept),
                orders_placed_again=rebased.again,
                changes=sorted(to_replace.items()),
            )

    @staticmethod
    def _place_again(
        session: Session, plan: Plan, order_ids: list[int], inp: ApplyInput
    ) -> dict[Key, Slot]:
        """Orders placed since the scenario's snapshot that collided with its plan, placed
        again around it, in the order they came, as any new order is placed."""
        slots: dict[Key, Slot] = {}
        for order_id in order_ids:
            session.flush()  # the placement reads the plan's slots so far
            order = session.get(ProductionOrder, order_id)
            assert order is not None
            placed = place_into_plan(session, plan, order, routing_of(session, order.style_code))
            for a, _ in placed:
                slots[(order_id, a.seq)] = Slot(a.work_centre_id, a.start, a.end)
            add_event(
                session,
                "production_order",
                order_id,
                "placed_again",
                inp.actor,
                scenario_id=inp.scenario_id,
                plan_version=plan.version,
                finish=placed[-1][0].end.isoformat(),
            )
        return slots

    @staticmethod
    def _keep_edits(session: Session, scenario: Scenario, edits: list[Any], actor: str) -> None:
        """What the scenario's edits say about the factories goes into their master data,
        so the placements after the apply (the apply's own included) plan as the applied
        plan does: overtime and down periods into the calendars, a capacity or efficiency
        into the work centre, each with an event naming the planner. Due dates, fabric
        delays and rush orders stay what-ifs."""
        for edit in edits:
            if isinstance(edit, OvertimeEdit | FactoryDownEdit):
                factory = session.exec(select(Factory).where(Factory.code == edit.factory)).one()
                kind = "overtime" if isinstance(edit, OvertimeEdit) else "downtime"
                _keep_period(session, "factory", factory, kind, edit, actor, scenario.id)
            elif isinstance(edit, WorkCentreDownEdit | CapacityEdit):
                wc = session.exec(
                    select(WorkCentre).where(WorkCentre.code == edit.work_centre)
                ).one()
                if isinstance(edit, WorkCentreDownEdit):
                    _keep_period(session, "work_centre", wc, "downtime", edit, actor, scenario.id)
                    continue
                was = {"capacity": wc.capacity, "efficiency": wc.efficiency}
                wc.capacity = edit.capacity or wc.capacity
                wc.efficiency = edit.efficiency or wc.efficiency
                add_event(
                    session,
                    "work_centre",
                    wc.id or 0,
                    "capacity",
                    actor,
                    capacity=wc.capacity,
                    efficiency=wc.efficiency,
                    was=was,
                    scenario_id=scenario.id,
                )

    @staticmethod
    def _move_work_orders(
        session: Session,
        changed: dict[Key, Slot],
        centres: dict[str, WorkCentre],
        version: int,
    ) -> tuple[int, dict[str, list[int]]]:
        """Planned work orders of changed operations move in place; released ones are
        listed per workflow id. Returns (moved in place, to replace)."""
        by_id = {wc.id: wc for wc in centres.values()}
        moved = 0
        to_replace: dict[str, list[int]] = {}
        if not changed:
            return moved, to_replace
        order_ids = sorted({order_id for order_id, _ in changed})
        workflows = dict(
            session.execute(
                sa.select(col(ProductionOrder.id), col(ProductionOrder.workflow_id)).where(
                    col(ProductionOrder.id).in_(order_ids)
                )
            ).all()
        )
        latest: dict[tuple[int, int], WorkOrder] = {}
        for row in session.exec(
            select(WorkOrder)
            .where(col(WorkOrder.production_order_id).in_(order_ids))
            .order_by(col(WorkOrder.id))
        ).all():
            latest[(row.production_order_id, row.seq)] = row
        for key, (wc_id, start, end) in sorted(changed.items()):
            wo = latest.get(key)
            if wo is None:
                continue
            if wo.status == WorkOrderStatus.PLANNED:
                before = (wo.work_centre_id, wo.planned_start)
                wo.work_centre_id, wo.factory_id = wc_id, by_id[wc_id].factory_id
                wo.planned_start, wo.planned_end = start, end
                moved += 1
                add_event(
                    session,
                    "work_order",
                    wo.id or 0,
                    "replanned",
                    plan_version=version,
                    from_work_centre=before[0],
                    to_work_centre=wc_id,
                    from_start=before[1].isoformat(),
                    to_start=start.isoformat(),
                )
            elif wo.status == WorkOrderStatus.RELEASED and wo.work_centre_id != wc_id:
                workflow_id = workflows.get(key[0]) or production_order_workflow_id(key[0])
                to_replace.setdefault(workflow_id, []).append(wo.id or 0)
        return moved, to_replace

    @staticmethod
    def _applied(session: Session, scenario: Scenario) -> ApplyResult:
        """What applying it did, from its event: a retry after the commit sends the same
        work orders to their workflows again (they ignore a second notice)."""
        plan = session.exec(select(Plan).where(Plan.source == f"scenario {scenario.id}")).one()
        event = session.exec(
            select(Event).where(
                Event.entity == "plan", Event.entity_id == plan.id, Event.kind == "applied"
            )
        ).one()
        return ApplyResult(
            scenario_id=scenario.id or 0,
            plan_version=plan.version,
            operations_moved=int(event.data.get("operations_moved", 0)),
            work_orders_moved=int(event.data["work_orders_moved"]),
            work_orders_replaced=int(event.data["work_orders_replaced"]),
            operations_kept=int(event.data.get("operations_kept", 0)),
            orders_placed_again=list(event.data.get("orders_placed_again", [])),
            changes=[(wid, list(ids)) for wid, ids in event.data["changes"]],
        )
