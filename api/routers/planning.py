"""Planners: take a factory out of the plan (down) and back in (up); its open work is
re-planned elsewhere by each production order's workflow. And a factory's calendar: its
shifts, holidays, and the overtime and down periods applied with scenarios, any of which
a planner can withdraw."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, col, select
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from api.deps import PlannerDep, ReleasingRoute, SessionDep, TemporalDep, read_and_release
from api.errors import temporal_unavailable, temporal_unreachable
from models.errors import Conflict, InvalidInput, NotFound
from models.queues import production_order_workflow_id
from models.scenarios import stored_period
from models.schemas import FactoryDown, WorkCentreHeld, WorkOrderStatus
from models.tables import (
    Event,
    Factory,
    PlanAssignment,
    ProductionOrder,
    WorkCentre,
    WorkOrder,
    live_plan_ids,
)
from workflows.production_order import ProductionOrderWorkflow

router = APIRouter(prefix="/v1/factories", tags=["planners"], route_class=ReleasingRoute)


class DownIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class WorkMoved(BaseModel):
    # Work orders not yet claimed there, whose production orders were told to move them.
    work_orders_to_move: list[int] = Field(default_factory=list)
    orders_notified: list[int] = Field(default_factory=list)


class FactoryState(WorkMoved):
    code: str
    is_down: bool


@router.post("/{code}/down", response_model=FactoryState)
async def factory_down(
    code: str, body: DownIn, principal: PlannerDep, session: SessionDep, client: TemporalDep
) -> FactoryState:
    """Mark a factory down. New placements avoid it; each production order with work there
    that nobody has claimed yet re-plans it at another factory (work already claimed
    stays: the factory is finishing it). Marking it down again re-sends the notices."""
    factory = await read_and_release(
        session,
        lambda s: _switch(
            s, _factory(s, code), "is_down", True, principal.name, "down", reason=body.reason
        ),
    )
    moved, notified = await tell_orders(
        session,
        client,
        col(WorkOrder.factory_id) == factory.id,
        lambda handle, wo_ids: handle.signal(
            ProductionOrderWorkflow.factory_down,
            FactoryDown(factory_code=code, work_order_ids=wo_ids, reason=body.reason),
        ),
    )
    return FactoryState(
        code=code, is_down=True, work_orders_to_move=moved, orders_notified=notified
    )


async def tell_orders(
    session: Session,
    client: Client,
    where: Any,
    send: Callable[[WorkflowHandle[Any, Any], list[int]], Awaitable[None]],
) -> tuple[list[int], list[int]]:
    """Tell each production order with unclaimed work ``where`` says (planned or released)
    to move it: ``send`` signals its workflow with its work order ids. The session is
    closed first (no connection held while Temporal answers). Returns (work orders to
    move, orders told); an order whose workflow has ended is skipped. Asking again sends
    the notices again: the workflows note each once."""
    open_work = await read_and_release(session, _open_work, where)
    by_order: dict[tuple[int, str], list[int]] = defaultdict(list)
    for wo_id, order_id, workflow_id in open_work:
        key = (order_id, workflow_id or production_order_workflow_id(order_id))
        by_order[key].append(wo_id or 0)
    notified = []
    for (order_id, workflow_id), wo_ids in by_order.items():
        handle = client.get_workflow_handle_for(ProductionOrderWorkflow.run, workflow_id)
        try:
            await send(handle, wo_ids)
        except RPCError as err:
            if temporal_unreachable(err):
                raise temporal_unavailable(err) from err
            continue  # the order is not running any more
        notified.append(order_id)
    return [wo for ids in by_order.values() for wo in ids], notified


def _open_work(session: Session, where: Any) -> list[tuple[int | None, int, str | None]]:
    rows = session.exec(
        select(WorkOrder.id, WorkOrder.production_order_id, ProductionOrder.workflow_id)
        .join(ProductionOrder, col(ProductionOrder.id) == col(WorkOrder.production_order_id))
        .where(
            where,
            col(WorkOrder.status).in_([WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED]),
        )
        .order_by(col(WorkOrder.id))
    ).all()
    return list(rows)


@router.post("/{code}/up", response_model=FactoryState)
def factory_up(code: str, principal: PlannerDep, session: SessionDep) -> FactoryState:
    """Mark a factory working again: new placements may use it (moved work stays moved)."""
    _switch(session, _factory(session, code), "is_down", False, principal.name, "up")
    return FactoryState(code=code, is_down=False)


class Period(BaseModel):
    start: AwareDatetime
    end: AwareDatetime


class FactoryCalendar(BaseModel):
    code: str
    timezone: str
    is_down: bool
    shifts: list[dict[str, Any]]
    holidays: list[str]
    # Applied with scenarios, not over yet (past ones are on the factory's events).
    overtime: list[Period]
    downtime: list[Period]
    work_centre_downtime: dict[str, list[Period]] = Field(
        default_factory=dict, description="Work centre code -> its own down periods."
    )


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["overtime", "downtime"]
    start: AwareDatetime
    end: AwareDatetime
    work_centre: str | None = Field(
        default=None, description="A work centre's own down period, not the factory's."
    )

    @model_validator(mode="after")
    def _overtime_is_the_factorys(self) -> WithdrawIn:
        if self.kind == "overtime" and self.work_centre is not None:
            raise ValueError("overtime is a factory's: leave work_centre out")
        return self


@router.get("/{code}/calendar", response_model=FactoryCalendar)
def factory_calendar(code: str, principal: PlannerDep, session: SessionDep) -> FactoryCalendar:
    """The factory's shifts and holidays, and the overtime and down periods planners
    applied with scenarios that are not over yet."""
    return _calendar(session, _factory(session, code))


@router.post("/{code}/calendar/withdraw", response_model=FactoryCalendar)
def withdraw_period(
    code: str, body: WithdrawIn, principal: PlannerDep, session: SessionDep
) -> FactoryCalendar:
    """Take back an overtime or down period applied with a scenario (the factory came back
    early, the overtime was called off). The live plan stays as it is: work placed around
    a down period is not pulled forward (run a scenario for that). Overtime the live plan
    still works in is refused (409): move that work first, e.g. with a scenario that takes
    the factory down for those hours."""
    factory = _factory(session, code)
    owner: Factory | WorkCentre = factory
    if body.work_centre is not None:
        centre = session.exec(
            select(WorkCentre).where(
                WorkCentre.code == body.work_centre, WorkCentre.factory_id == factory.id
            )
        ).one_or_none()
        if centre is None:
            raise InvalidInput(
                f"work centre {body.work_centre!r} is not one of {code}'s", field="work_centre"
            )
        owner = centre
    period = stored_period(body.start, body.end)
    periods: list[list[str]] = getattr(owner, body.kind)
    if period not in periods:
        whose = body.work_centre or code
        raise NotFound(
            f"{whose} has no {body.kind} from {period[0]} to {period[1]}; "
            f"GET /v1/factories/{code}/calendar lists them"
        )
    if body.kind == "overtime":
        _refuse_if_worked(session, factory, body.start, body.end)
    setattr(owner, body.kind, [p for p in periods if p != period])
    session.add(
        Event(
            actor=principal.name,
            entity="factory" if owner is factory else "work_centre",
            entity_id=owner.id or 0,
            kind=f"{body.kind}_withdrawn",
            data={"start": period[0], "end": period[1]},
        )
    )
    session.commit()
    return _calendar(session, factory)


R = TypeVar("R", Factory, WorkCentre)


def _switch(
    session: Session, row: R, flag: str, value: bool, actor: str, kind: str, **data: str
) -> R:
    """Set a factory's or a work centre's ``flag`` with an event, once: asking again
    changes nothing. Returns ``row``."""
    if getattr(row, flag) == value:
        return row
    setattr(row, flag, value)
    entity = "factory" if isinstance(row, Factory) else "work_centre"
    session.add(Event(actor=actor, entity=entity, entity_id=row.id or 0, kind=kind, data=data))
    session.commit()
    return row


def _factory(session: Session, code: str) -> Factory:
    factory = session.exec(select(Factory).where(Factory.code == code)).one_or_none()
    if factory is None:
        raise NotFound(f"factory {code} not found", field="code")
    return factory


def _refuse_if_worked(session: Session, factory: Factory, start: datetime, end: datetime) -> None:
    worked = session.execute(
        sa.select(
            col(PlanAssignment.production_order_id),
            col(PlanAssignment.seq),
            col(WorkCentre.code),
            col(PlanAssignment.start),
            col(PlanAssignment.end),
        )
        .join(WorkCentre, col(WorkCentre.id) == col(PlanAssignment.work_centre_id))
        .where(
            col(PlanAssignment.plan_id) == live_plan_ids().scalar_subquery(),
            col(WorkCentre.factory_id) == factory.id,
            col(PlanAssignment.start) < end,
            col(PlanAssignment.end) > start,
        )
        .order_by(col(PlanAssignment.start))
    ).all()
    if worked:
        order_id, seq, centre, a, b = worked[0]
        raise Conflict(
            f"{len(worked)} operation(s) of the live plan work in this overtime (first: order "
            f"{order_id} operation {seq} on {centre}, {a.isoformat()} to {b.isoformat()}): "
            "move them first, e.g. apply a scenario that takes the factory down for those hours"
        )


def _calendar(session: Session, factory: Factory) -> FactoryCalendar:
    now = datetime.now(UTC)

    def ahead(periods: list[list[str]]) -> list[Period]:
        spans = [
            Period(start=datetime.fromisoformat(a), end=datetime.fromisoformat(b))
            for a, b in periods
        ]
        return sorted((p for p in spans if p.end > now), key=lambda p: p.start)

    centres = session.exec(
        select(WorkCentre).where(WorkCentre.factory_id == factory.id).order_by(col(WorkCentre.code))
    ).all()
    return FactoryCalendar(
        code=factory.code,
        timezone=factory.timezone,
        is_down=factory.is_down,
        shifts=factory.shifts,
        holidays=factory.holidays,
        overtime=ahead(factory.overtime),
        downtime=ahead(factory.downtime),
        work_centre_downtime={
            wc.code: periods for wc in centres if (periods := ahead(wc.downtime))
        },
    )


# ------------------------------------------------------------------ quality holds

centres = APIRouter(prefix="/v1/work-centres", tags=["planners"], route_class=ReleasingRoute)


class WorkCentreState(WorkMoved):
    code: str
    on_hold: bool


@centres.post("/{code}/hold", response_model=WorkCentreState)
async def hold_work_centre(
    code: str, body: DownIn, principal: PlannerDep, session: SessionDep, client: TemporalDep
) -> WorkCentreState:
    """Put a work centre on a quality hold, as a defect spike does by itself: no new work
    is placed there, and each production order with unclaimed work there re-plans it
    elsewhere (claimed work stays: the line is finishing it). Asking again re-sends the
    notices."""
    centre = await read_and_release(
        session,
        lambda s: _switch(
            s, _centre(s, code), "on_hold", True, principal.name, "hold", reason=body.reason
        ),
    )
    return await move_held_work(session, client, centre, body.reason)


@centres.post("/{code}/release", response_model=WorkCentreState)
def release_work_centre(code: str, principal: PlannerDep, session: SessionDep) -> WorkCentreState:
    """End a quality hold: new placements may use the work centre again (moved work stays
    moved)."""
    _switch(session, _centre(session, code), "on_hold", False, principal.name, "hold_released")
    return WorkCentreState(code=code, on_hold=False)


async def move_held_work(
    session: Session, client: Client, centre: WorkCentre, reason: str
) -> WorkCentreState:
    """Tell the orders with unclaimed work at a held work centre to move it."""
    code = centre.code
    moved, notified = await tell_orders(
        session,
        client,
        col(WorkOrder.work_centre_id) == centre.id,
        lambda handle, wo_ids: handle.signal(
            ProductionOrderWorkflow.work_centre_held,
            WorkCentreHeld(work_centre_code=code, work_order_ids=wo_ids, reason=reason),
        ),
    )
    return WorkCentreState(
        code=code, on_hold=True, work_orders_to_move=moved, orders_notified=notified
    )


def hold_reason(session: Session, centre_id: int) -> str:
    """Why a work centre is on hold: its latest defect spike or planner's hold."""
    why = session.exec(
        select(Event)
        .where(
            Event.entity == "work_centre",
            Event.entity_id == centre_id,
            col(Event.kind).in_(["defect_spike", "hold"]),
        )
        .order_by(col(Event.id).desc())
    ).first()
    if why is None:
        return "held"
    if why.kind == "defect_spike":
        return f"defect spike: {why.data['share']:.0%} of its latest pieces defective"
    return f"{why.actor}: {why.data.get('reason', '')}"


def _centre(session: Session, code: str) -> WorkCentre:
    centre = session.exec(select(WorkCentre).where(WorkCentre.code == code)).one_or_none()
    if centre is None:
        raise NotFound(f"work centre {code} not found", field="code")
    return centre
