"""Planners: take a factory out of the plan (down) and back in (up); its open work is
re-planned elsewhere by each production order's workflow. And a factory's calendar: its
shifts, holidays, and the overtime and down periods applied with scenarios, any of which
a planner can withdraw."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlmodel import Session, col, select
from temporalio.service import RPCError

from api.deps import PlannerDep, SessionDep, TemporalDep
from api.errors import temporal_unavailable, temporal_unreachable
from models.errors import Conflict, InvalidInput, NotFound
from models.queues import production_order_workflow_id
from models.schemas import FactoryDown, PlanStatus, WorkOrderStatus
from models.tables import (
    Event,
    Factory,
    Plan,
    PlanAssignment,
    ProductionOrder,
    WorkCentre,
    WorkOrder,
)
from workflows.production_order import ProductionOrderWorkflow

router = APIRouter(prefix="/v1/factories", tags=["planners"])


class DownIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class FactoryState(BaseModel):
    code: str
    is_down: bool
    # Work orders not yet claimed there, whose production orders were told to move them.
    work_orders_to_move: list[int] = Field(default_factory=list)
    orders_notified: list[int] = Field(default_factory=list)


@router.post("/{code}/down", response_model=FactoryState)
async def factory_down(
    code: str, body: DownIn, principal: PlannerDep, session: SessionDep, client: TemporalDep
) -> FactoryState:
    """Mark a factory down. New placements avoid it; each production order with work there
    that nobody has claimed yet re-plans it at another factory (work already claimed
    stays: the factory is finishing it). Marking it down again re-sends the notices."""
    factory = _factory(session, code)
    if not factory.is_down:
        factory.is_down = True
        session.add(
            Event(
                actor=principal.name,
                entity="factory",
                entity_id=factory.id or 0,
                kind="down",
                data={"reason": body.reason},
            )
        )
        session.commit()
    open_work = session.exec(
        select(WorkOrder.id, WorkOrder.production_order_id, ProductionOrder.workflow_id)
        .join(ProductionOrder, col(ProductionOrder.id) == col(WorkOrder.production_order_id))
        .where(
            WorkOrder.factory_id == factory.id,
            col(WorkOrder.status).in_([WorkOrderStatus.PLANNED, WorkOrderStatus.RELEASED]),
        )
        .order_by(col(WorkOrder.id))
    ).all()
    session.close()  # the signals below wait on Temporal: hold no connection meanwhile
    by_order: dict[tuple[int, str], list[int]] = defaultdict(list)
    for wo_id, order_id, workflow_id in open_work:
        key = (order_id, workflow_id or production_order_workflow_id(order_id))
        by_order[key].append(wo_id or 0)
    notified = []
    for (order_id, workflow_id), wo_ids in by_order.items():
        handle = client.get_workflow_handle_for(ProductionOrderWorkflow.run, workflow_id)
        try:
            await handle.signal(
                ProductionOrderWorkflow.factory_down,
                FactoryDown(factory_code=code, work_order_ids=wo_ids, reason=body.reason),
            )
        except RPCError as err:
            if temporal_unreachable(err):  # marking it down again re-sends the notices
                raise temporal_unavailable(err) from err
            continue  # the order is not running any more
        notified.append(order_id)
    return FactoryState(
        code=code,
        is_down=True,
        work_orders_to_move=[wo for ids in by_order.values() for wo in ids],
        orders_notified=notified,
    )


@router.post("/{code}/up", response_model=FactoryState)
def factory_up(code: str, principal: PlannerDep, session: SessionDep) -> FactoryState:
    """Mark a factory working again: new placements may use it (moved work stays moved)."""
    factory = _factory(session, code)
    if factory.is_down:
        factory.is_down = False
        session.add(
            Event(actor=principal.name, entity="factory", entity_id=factory.id or 0, kind="up")
        )
        session.commit()
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
    period = [body.start.astimezone(UTC).isoformat(), body.end.astimezone(UTC).isoformat()]
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
        .join(Plan, col(Plan.id) == col(PlanAssignment.plan_id))
        .join(WorkCentre, col(WorkCentre.id) == col(PlanAssignment.work_centre_id))
        .where(
            col(Plan.status) == PlanStatus.LIVE,
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
