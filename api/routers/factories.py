"""Factories: list their work orders, claim the next one under a lease, start and complete.

A factory sees only its own work orders: another factory's id answers 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, SQLModel, col, select
from starlette.concurrency import run_in_threadpool
from temporalio.client import (
    Client,
    WorkflowUpdateStage,
)
from temporalio.workflow import UpdateMethodMultiParam

from api.deps import FactoryDep, Principal, ReleasingRoute, RuntimeDep, SessionDep, TemporalDep
from api.errors import UPDATE_RPC_TIMEOUT, update_errors
from api.routers.planning import hold_reason, move_held_work
from models.errors import Conflict, InvalidInput, LeaseNotHeld, NotFound
from models.failpoints import failpoint
from models.outcomes import completion_of, rejection_of
from models.queues import production_order_workflow_id
from models.schemas import (
    LEASED_STATUSES,
    MAX_INT,
    CompleteWorkOrderInput,
    CompleteWorkOrderResult,
    RejectWorkOrderInput,
    RejectWorkOrderResult,
    RowId,
    SizeQuantity,
    WorkOrderStatus,
)
from models.tables import Event, Factory, ProductionOrder, Style, WorkCentre, WorkOrder
from workflows.production_order import ProductionOrderWorkflow

A = TypeVar("A")
R = TypeVar("R")

router = APIRouter(prefix="/v1/factory/work-orders", tags=["factories"], route_class=ReleasingRoute)

# What a factory sees of its own work orders (planned and withdrawn ones are not its yet).
VISIBLE = (
    WorkOrderStatus.RELEASED,
    WorkOrderStatus.CLAIMED,
    WorkOrderStatus.STARTED,
    WorkOrderStatus.COMPLETED,
    WorkOrderStatus.REJECTED,
    # Once released to a factory, a work order stays its to see: a withdrawn one says so.
    WorkOrderStatus.WITHDRAWN,
)


class WorkOrderPublic(BaseModel):
    """A factory's work order: what to make (style, colour, sizes), where, when, and its
    lease. A factory cannot read production orders, so the work order says it all."""

    id: int
    production_order_id: int
    style_code: str
    colour: str
    seq: int
    operation_kind: str
    work_centre_id: int
    work_centre_code: str
    quantity: int
    size_breakdown: dict[str, int]
    planned_start: datetime
    planned_end: datetime
    status: WorkOrderStatus
    lease_expires_at: datetime | None
    lease_expiries: int
    progress_quantity: int | None
    good_quantity: int | None
    defective_quantity: int | None


class WorkOrdersPublic(BaseModel):
    data: list[WorkOrderPublic]
    count: int


class TrailEntry(BaseModel):
    at: datetime
    actor: str
    kind: str
    data: dict[str, Any]


class WorkOrderDetail(WorkOrderPublic):
    style_name: str
    due_date: date | None = Field(description="The production order's due date.")
    trail: list[TrailEntry] = Field(description="The work order's events, oldest first.")


class CompletionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    good: list[SizeQuantity] = Field(min_length=1)
    defective: list[SizeQuantity] = Field(default_factory=list)


def _factory_id(principal: Principal) -> int:
    if principal.scope_id is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this token has no factory scope")
    return principal.scope_id


def _own(session: Session, wo_id: int, factory_id: int) -> WorkOrder:
    wo = session.get(WorkOrder, wo_id)
    if (
        wo is None
        or wo.factory_id != factory_id
        or wo.status not in VISIBLE
        or (wo.status == WorkOrderStatus.WITHDRAWN and wo.released_at is None)
    ):
        raise NotFound(f"work order {wo_id} not found")
    return wo


@router.get("", response_model=WorkOrdersPublic)
def list_work_orders(
    principal: FactoryDep,
    session: SessionDep,
    status_: Annotated[list[WorkOrderStatus] | None, Query(alias="status")] = None,
    production_order_id: RowId | None = None,
    operation_kind: Annotated[str | None, Query(max_length=50)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> WorkOrdersPublic:
    """This factory's work orders in plan order (released and held unless filtered by
    status), optionally of one production order or one kind of operation."""
    factory_id = _factory_id(principal)
    wanted = [s for s in (status_ or [*LEASED_STATUSES, WorkOrderStatus.RELEASED]) if s in VISIBLE]
    where = [
        col(WorkOrder.factory_id) == factory_id,
        col(WorkOrder.status).in_(wanted),
        # Not what was withdrawn before the factory was ever given it.
        (col(WorkOrder.status) != WorkOrderStatus.WITHDRAWN)
        | col(WorkOrder.released_at).is_not(None),
    ]
    if production_order_id is not None:
        where.append(col(WorkOrder.production_order_id) == production_order_id)
    if operation_kind is not None:
        where.append(col(WorkOrder.operation_kind) == operation_kind)
    count = session.exec(select(sa.func.count()).select_from(WorkOrder).where(*where)).one()
    rows = session.execute(
        _DESCRIBED.where(*where)
        .order_by(col(WorkOrder.planned_start), col(WorkOrder.id))
        .offset(offset)
        .limit(limit)
    ).all()
    return WorkOrdersPublic(data=[_public(row) for row in rows], count=count)


@router.get("/{wo_id}", response_model=WorkOrderDetail)
def get_work_order(wo_id: RowId, principal: FactoryDep, session: SessionDep) -> WorkOrderDetail:
    """One of this factory's work orders in full: what to make, its production order's
    due date, and its trail (claims, starts, give-backs, lease expiries, the outcome)."""
    wo = _own(session, wo_id, _factory_id(principal))
    with contextlib.closing(session):
        order = session.get(ProductionOrder, wo.production_order_id)
        centre = session.get(WorkCentre, wo.work_centre_id)
        assert order is not None and centre is not None  # foreign keys
        style_name = session.exec(
            select(Style.name).where(Style.code == order.style_code)
        ).one_or_none()
        trail = session.exec(
            select(Event)
            .where(Event.entity == "work_order", Event.entity_id == wo_id)
            .order_by(col(Event.at), col(Event.id))
        ).all()
    return WorkOrderDetail(
        **wo.model_dump(),
        style_code=order.style_code,
        colour=order.colour,
        work_centre_code=centre.code,
        style_name=style_name or order.style_code,
        due_date=order.due_date,
        trail=[TrailEntry(at=e.at, actor=e.actor, kind=e.kind, data=e.data) for e in trail],
    )


_WORK_ORDER = SQLModel.metadata.tables[WorkOrder.__tablename__]
_EVENT = SQLModel.metadata.tables[Event.__tablename__]
_FACTORY = SQLModel.metadata.tables[Factory.__tablename__]
_WORK_CENTRE = SQLModel.metadata.tables[WorkCentre.__tablename__]
_ORDER = SQLModel.metadata.tables[ProductionOrder.__tablename__]


def _with_what_to_make() -> sa.Select[Any]:
    """A work order's columns and what it makes and where, each a primary-key lookup."""
    wo, po, wc = _WORK_ORDER.c, _ORDER.c, _WORK_CENTRE.c
    of_order = po.id == wo.production_order_id
    return sa.select(
        *wo,
        sa.select(po.style_code).where(of_order).scalar_subquery().label("style_code"),
        sa.select(po.colour).where(of_order).scalar_subquery().label("colour"),
        sa.select(wc.code)
        .where(wc.id == wo.work_centre_id)
        .scalar_subquery()
        .label("work_centre_code"),
    )


# Built once: the list and every change of a held work order answer with it.
_DESCRIBED = _with_what_to_make()


def _public(row: sa.Row[Any]) -> WorkOrderPublic:
    return WorkOrderPublic.model_validate(dict(row._mapping))


def _reloaded(session: Session, wo_id: int) -> WorkOrderPublic:
    """The work order as the database has it now (after a Core UPDATE): one SELECT, as the
    request's last database step. The session then gives its connection back at once, so
    no connection is held while the answer waits for the event loop: with hundreds of
    requests in flight, held connections would starve the threads that need one."""
    with contextlib.closing(session):
        return _public(session.execute(_DESCRIBED.where(_WORK_ORDER.c.id == wo_id)).one())


# SQLite lets one writer in at a time; the others sleep in its busy handler and retry,
# backing off up to 100 ms a try, which under many claimers wastes time and is unfair.
# The claims of this process queue for the write here instead. (PostgreSQL needs no
# such thing: claimers skip each other's locked rows.)
_SQLITE_CLAIMS = threading.Lock()


def _try_claim(
    session: Session, factory_id: int, holder: str, lease: timedelta, actor: str | None = None
) -> WorkOrderPublic | None:
    """Claim the next released work order in plan order with one conditional UPDATE; on
    PostgreSQL the candidate row is locked with SKIP LOCKED so claimers never queue. The
    trail names ``actor`` (the token's name) as the claimant, and the lease's holder."""
    actor = actor or holder
    # Closed at the end: no connection held while the answer waits for the event loop.
    with contextlib.closing(session):
        if session.get_bind().dialect.name == "sqlite":
            with _SQLITE_CLAIMS:
                claimed = _claim(session, factory_id, holder, lease, actor)
        else:
            claimed = _claim(session, factory_id, holder, lease, actor)
        if claimed is None:
            return None
        what = _MADE_WHERE.of(session, claimed.production_order_id, claimed.work_centre_id)
        return WorkOrderPublic.model_validate(dict(claimed._mapping) | what)


class MadeWhere:
    """The style and colour of production orders and the codes of work centres, kept by
    each API process for the claim's answer: none of them changes once the row exists, so
    a claim reads them once per order, not once per claim. Measured on SQLite, 2026-12-01:
    a second statement after each claim took a 0.77 ms claim to 1.09 ms (the median of
    5,000 in-process claims); the same columns as subqueries in the claim's RETURNING
    cost nothing there, but the benchmark's paced claims (bench/claims.py) had their
    slowest 1 % at 81-125 ms in all three runs, against 7-13 ms in five runs without.
    Bounded: when ``size`` orders are kept, it starts again."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self.orders: dict[int, tuple[str, str]] = {}
        self.centres: dict[int, str] = {}

    def of(self, session: Session, order_id: int, centre_id: int) -> dict[str, str]:
        order, centre = self.orders.get(order_id), self.centres.get(centre_id)
        if order is None or centre is None:
            po, wc = _ORDER.c, _WORK_CENTRE.c
            style, colour, centre = session.execute(
                sa.select(
                    *(
                        sa.select(c).where(po.id == order_id).scalar_subquery()
                        for c in (po.style_code, po.colour)
                    ),
                    sa.select(wc.code).where(wc.id == centre_id).scalar_subquery(),
                )
            ).one()
            if len(self.orders) >= self.size:
                self.orders.clear()
            order = self.orders[order_id] = (style, colour)
            self.centres[centre_id] = centre
        return {"style_code": order[0], "colour": order[1], "work_centre_code": centre}


_MADE_WHERE = MadeWhere()


def _claim(
    session: Session, factory_id: int, holder: str, lease: timedelta, actor: str
) -> sa.Row[Any] | None:
    # Core statements on the tables, not the ORM: the claim is the hottest path under
    # hundreds of pollers, and the ORM's bulk-update and unit-of-work machinery cost more
    # CPU than the database round trips (measured with py-spy in bench/claims.py's load).
    wo, wc = _WORK_ORDER.c, _WORK_CENTRE.c
    # A factory a planner took down claims nothing, and a work centre on a quality hold
    # nothing of its own, even work its orders' re-plans have not moved away yet (a
    # primary-key lookup each).
    up = sa.select(_FACTORY.c.id).where(_FACTORY.c.id == factory_id, _FACTORY.c.is_down.is_(False))
    held = sa.select(wc.id).where(wc.id == wo.work_centre_id, wc.on_hold.is_(True))
    candidate = (
        sa.select(wo.id)
        .where(
            wo.factory_id == factory_id,
            wo.status == WorkOrderStatus.RELEASED,
            sa.exists(up),
            ~sa.exists(held),
        )
        .order_by(wo.planned_start, wo.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        candidate = candidate.with_for_update(skip_locked=True)
    now = datetime.now(UTC)
    # The whole claimed row comes back from the UPDATE: no second read.
    claimed = session.execute(
        sa.update(_WORK_ORDER)
        .where(wo.id == candidate.scalar_subquery(), wo.status == WorkOrderStatus.RELEASED)
        .values(status=WorkOrderStatus.CLAIMED, lease_holder=holder, lease_expires_at=now + lease)
        .returning(*wo)
    ).one_or_none()
    if claimed is None:
        session.rollback()
        return None
    session.execute(
        sa.insert(_EVENT).values(
            at=now,
            actor=actor,
            entity="work_order",
            entity_id=claimed.id,
            kind="claimed",
            data={"lease_holder": holder},
        )
    )
    session.commit()
    return claimed


@router.post(
    "/claim",
    response_model=WorkOrderPublic,
    responses={204: {"description": "Nothing to claim within `wait` seconds"}},
)
async def claim_work_order(
    principal: FactoryDep,
    session: SessionDep,
    runtime: RuntimeDep,
    wait: Annotated[float, Query(ge=0, le=60, description="Long-poll for up to S seconds")] = 0,
) -> WorkOrderPublic | Response:
    """Claim the next released work order of this factory under a lease."""
    factory_id = _factory_id(principal)
    lease = timedelta(minutes=runtime.config.lease_minutes)
    deadline = time.monotonic() + wait
    while True:
        # Subscribe first: work released between our look and our wait still wakes us.
        with runtime.notifier.subscribe(factory_id) as released:
            # Database work off the event loop, so waiting pollers do not block each other.
            claimed = await run_in_threadpool(
                _try_claim, session, factory_id, principal.lease_holder, lease, principal.name
            )
            if claimed is not None:
                return claimed
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return Response(status_code=status.HTTP_204_NO_CONTENT)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), timeout=remaining)


def _held(session: Session, wo_id: int, principal: Principal) -> WorkOrder:
    """The work order, if this caller holds a live lease on it; otherwise 409 saying why."""
    return _require_lease(_own(session, wo_id, _factory_id(principal)), principal)


def _require_lease(wo: WorkOrder, principal: Principal) -> WorkOrder:
    wo_id = wo.id
    if wo.status == WorkOrderStatus.WITHDRAWN:
        raise LeaseNotHeld(
            f"work order {wo_id} was withdrawn (its production order was cancelled or the "
            "work re-planned elsewhere): stop work on it; its trail says why"
        )
    if wo.status not in LEASED_STATUSES:
        raise LeaseNotHeld(f"work order {wo_id} is {wo.status.value}, not claimed")
    if wo.lease_holder != principal.lease_holder:
        raise LeaseNotHeld(f"work order {wo_id} is leased to another claimant")
    if wo.lease_expires_at is not None and wo.lease_expires_at <= datetime.now(UTC):
        raise LeaseNotHeld(
            f"the lease on work order {wo_id} ran out at {wo.lease_expires_at.isoformat()}; "
            "claim it again"
        )
    return wo


def _change_held(
    session: Session, wo_id: int, principal: Principal, event: str | None, **values: object
) -> WorkOrderPublic:
    """Change a work order only while the caller's lease is live: the check and the write
    are one conditional UPDATE, so an expiry or another claim in between cannot be lost."""
    _held(session, wo_id, principal)  # the 404 or 409 with its reason
    changed = session.execute(
        sa.update(WorkOrder)
        .where(
            col(WorkOrder.id) == wo_id,
            col(WorkOrder.status).in_(LEASED_STATUSES),
            col(WorkOrder.lease_holder) == principal.lease_holder,
            col(WorkOrder.lease_expires_at) > datetime.now(UTC),
        )
        .values(**values)
        .returning(col(WorkOrder.id))
    ).scalar_one_or_none()
    if changed is None:
        session.rollback()
        raise LeaseNotHeld(f"the lease on work order {wo_id} changed meanwhile; claim it again")
    if event is not None:  # a state change goes on the audit trail; a heartbeat does not
        session.add(Event(actor=principal.name, entity="work_order", entity_id=wo_id, kind=event))
    session.commit()
    return _reloaded(session, wo_id)


@router.post("/{wo_id}/start", response_model=WorkOrderPublic)
def start_work_order(wo_id: RowId, principal: FactoryDep, session: SessionDep) -> WorkOrderPublic:
    """Mark a claimed work order as started on the floor."""
    return _change_held(session, wo_id, principal, "started", status=WorkOrderStatus.STARTED)


class HeartbeatIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    progress_quantity: int | None = Field(
        default=None, ge=0, description="Pieces done so far (good and defective)."
    )


@router.post("/{wo_id}/heartbeat", response_model=WorkOrderPublic)
def heartbeat_work_order(
    wo_id: RowId,
    principal: FactoryDep,
    session: SessionDep,
    runtime: RuntimeDep,
    beat: HeartbeatIn | None = None,
) -> WorkOrderPublic:
    """Extend the lease by its full length and report progress. Only the holder of a live
    lease may; a lease that ran out must be claimed again."""
    progress = beat.progress_quantity if beat else None
    wo = _held(session, wo_id, principal)
    if progress is not None and progress > wo.quantity:
        raise InvalidInput(
            f"progress {progress} is more than the planned {wo.quantity}",
            field="progress_quantity",
        )
    lease_until = datetime.now(UTC) + timedelta(minutes=runtime.config.lease_minutes)
    progress_value = {} if progress is None else {"progress_quantity": progress}
    return _change_held(
        session, wo_id, principal, None, lease_expires_at=lease_until, **progress_value
    )


@router.post("/{wo_id}/release", response_model=WorkOrderPublic)
def release_work_order(wo_id: RowId, principal: FactoryDep, session: SessionDep) -> WorkOrderPublic:
    """Give a claimed work order back to the queue (it is not counted as a lease expiry)."""
    return _change_held(
        session,
        wo_id,
        principal,
        "given_back",
        status=WorkOrderStatus.RELEASED,
        lease_holder=None,
        lease_expires_at=None,
        progress_quantity=None,
    )


# The Idempotency-Key the API stores with an outcome (completion or rejection) sent
# without one.
API_KEY_PREFIX = "api-"


@router.post("/{wo_id}/complete", response_model=CompleteWorkOrderResult)
async def complete_work_order(
    wo_id: RowId,
    completion: CompletionIn,
    principal: FactoryDep,
    session: SessionDep,
    client: TemporalDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CompleteWorkOrderResult:
    """Report good and defective quantities per size. The production order's workflow
    validates and records it; the same `Idempotency-Key` returns the same answer."""
    wo, order = await run_in_threadpool(_outcome_target, session, wo_id, principal)
    repeated = wo.status == WorkOrderStatus.COMPLETED

    def told(key: str) -> Awaitable[CompleteWorkOrderResult]:
        return _send_outcome(
            client,
            order,
            ProductionOrderWorkflow.complete_work_order,
            CompleteWorkOrderInput(
                work_order_id=wo_id,
                factory_id=wo.factory_id,
                lease_holder=principal.lease_holder,
                good=completion.good,
                defective=completion.defective,
                idempotency_key=key,
                actor=principal.name,
            ),
            update_id=f"complete-{wo_id}-{key}",
        )

    if not repeated:
        _require_lease(wo, principal)
    stored = completion_of(wo) if repeated else None
    result = await _once(wo_id, "completed", stored, wo.completion_key, idempotency_key, told)
    # The completion's activity says whether its work centre is on a quality hold now (a
    # spike it completed, clean or not, or an earlier hold): a completion at a centre not
    # held, the common case and the whole claims benchmark, pays nothing for holds.
    if result.work_centre_on_hold:
        held = await run_in_threadpool(_on_hold, session, wo.work_centre_id)
        if held is not None:
            await move_held_work(session, client, *held)
    return result


def _on_hold(session: Session, centre_id: int) -> tuple[WorkCentre, str] | None:
    """The work centre if it is on a quality hold, with why. A completion's defect spike
    puts it there (``activities.production._hold_on_defect_spike``): the completion
    endpoint asks after each completion that leaves its centre held, so each completion at
    a held centre tells the orders with unclaimed work there to move it (each notice is
    noted once), and a notice lost with a crashed API goes out with the next."""
    with contextlib.closing(session):
        centre = session.get(WorkCentre, centre_id)
        if centre is None or not centre.on_hold:
            return None
        return centre, hold_reason(session, centre_id)


class RejectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why the factory refuses.")


@router.post("/{wo_id}/reject", response_model=RejectWorkOrderResult)
async def reject_work_order(
    wo_id: RowId,
    rejection: RejectionIn,
    principal: FactoryDep,
    session: SessionDep,
    client: TemporalDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> RejectWorkOrderResult:
    """Refuse a claimed work order, with the reason. The production order records it as a
    disruption; the same `Idempotency-Key` returns the same answer."""
    wo, order = await run_in_threadpool(_outcome_target, session, wo_id, principal)
    repeated = wo.status == WorkOrderStatus.REJECTED

    def told(key: str) -> Awaitable[RejectWorkOrderResult]:
        return _send_outcome(
            client,
            order,
            ProductionOrderWorkflow.reject_work_order,
            RejectWorkOrderInput(
                work_order_id=wo_id,
                factory_id=wo.factory_id,
                lease_holder=principal.lease_holder,
                reason=rejection.reason,
                idempotency_key=key,
                actor=principal.name,
            ),
            update_id=f"reject-{wo_id}-{key}",
        )

    if not repeated:
        _require_lease(wo, principal)
    stored = rejection_of(wo) if repeated else None
    return await _once(wo_id, "rejected", stored, wo.rejection_key, idempotency_key, told)


async def _once(
    wo_id: int,
    done: str,
    stored: R | None,
    stored_key: str | None,
    idempotency_key: str | None,
    told: Callable[[str], Awaitable[R]],
) -> R:
    """A factory's outcome (``done``: completed or rejected) to its workflow, once.

    - New: told under the caller's Idempotency-Key, or without one under a key of the
      API's, so that the stored outcome can always be told to the workflow again.
    - Repeated with the same key: told again (``_told_again``).
    - Repeated otherwise: refused (409), but first the workflow is told the stored
      outcome again under its key, in case that update was lost with a crashed worker
      and server: the order would otherwise wait for it forever.
    """
    if stored is None:
        return await told(idempotency_key or f"{API_KEY_PREFIX}{uuid.uuid4().hex}")
    if idempotency_key and stored_key == idempotency_key:
        return await _told_again(told(idempotency_key), stored)
    if stored_key:
        with contextlib.suppress(HTTPException):
            await told(stored_key)
    raise Conflict(f"work order {wo_id} is already {done}")


async def _told_again(outcome: Awaitable[R], stored: R) -> R:
    """A retry of an outcome the database has already (same Idempotency-Key): the
    workflow is told again all the same, because the first update may have been lost
    after its activity committed (a worker and the Temporal server dying together; found
    by ``c2b bench chaos``). Its handler's activity answers from the stored outcome, and
    Temporal deduplicates an update it did keep. Once the order's workflow takes no more
    outcomes (shipped, cancelled), the stored answer is the answer."""
    try:
        return await outcome
    except HTTPException as err:
        if err.status_code != status.HTTP_409_CONFLICT:
            raise
        return stored


def _outcome_target(
    session: Session, wo_id: int, principal: Principal
) -> tuple[WorkOrder, ProductionOrder]:
    """The caller's work order and its production order, read off the event loop; the
    session gives its connection back before the workflow is asked, which may take a while."""
    with contextlib.closing(session):
        wo = _own(session, wo_id, _factory_id(principal))
        order = session.get(ProductionOrder, wo.production_order_id)
        assert order is not None
        return wo, order


async def _send_outcome(
    client: Client,
    order: ProductionOrder,
    update: UpdateMethodMultiParam[[ProductionOrderWorkflow, A], R],
    arg: A,
    update_id: str | None,
) -> R:
    """Hand a factory's outcome to the order's workflow, which persists it. The update id
    carries the idempotency key, so Temporal itself deduplicates a retry."""
    handle = client.get_workflow_handle_for(
        ProductionOrderWorkflow.run,
        order.workflow_id or production_order_workflow_id(order.id or 0),
    )
    with update_errors(f"production order {order.id} is not taking work-order outcomes"):
        started = await handle.start_update(
            update,
            arg,
            id=update_id,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
            rpc_timeout=UPDATE_RPC_TIMEOUT,
        )
        # From here the outcome is the workflow's: a crash loses nothing, and a retry with
        # the same key gets this update's result.
        failpoint("complete.after_update_accepted")
        return await started.result(rpc_timeout=UPDATE_RPC_TIMEOUT)
