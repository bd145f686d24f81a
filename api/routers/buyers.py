"""Buyer teams: submit demand batches (JSON or CSV), follow them, pick what to make."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select
from starlette.types import Message
from temporalio.client import Client
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api.deps import (
    ApiConfig,
    BuyerDep,
    ReleasingRoute,
    RuntimeDep,
    SessionDep,
    TemporalDep,
    read_and_release,
)
from api.errors import UPDATE_RPC_TIMEOUT, WorkflowDidNotAnswer, answer_of, update_errors
from api.intake import (
    DemandLineIn,
    IntakeError,
    LineError,
    StyleInfo,
    parse_csv,
    validate_lines,
)
from api.planned import ProductionOrderBrief, planned_finishes, with_finish
from models.bulk import insert_rows
from models.errors import InvalidInput, NotFound, PayloadTooLarge, UnsupportedMediaType
from models.schemas import (
    MAX_INT,
    AggregateDemandResult,
    BatchProgress,
    BatchStatus,
    DemandBatchInput,
    DemandLineStatus,
    OnError,
    RowId,
    SubmitPicksInput,
    SubmitPicksResult,
)
from models.tables import DemandBatch, DemandLine, Event, ProductionOrder, Style
from workflows.demand_batch import DemandBatchWorkflow

router = APIRouter(prefix="/v1/demand-batches", tags=["buyer teams"], route_class=ReleasingRoute)


class DemandBatchCreate(BaseModel):
    lines: list[DemandLineIn]
    pick_window_hours: float | None = Field(default=None, gt=0, le=24 * 30)


class DemandBatchPublic(BaseModel):
    batch_id: int
    status: BatchStatus
    workflow_id: str
    accepted_lines: int
    rejected_lines: list[LineError]
    created_at: datetime


class BatchQuantities(BaseModel):
    """Pieces of the accepted lines by where they stand. ``accepted = picked + declined +
    open`` always holds (picked counts lines in production and shipped)."""

    accepted: int
    picked: int
    declined: int
    open: int
    shipped: int


class DemandBatchDetail(DemandBatchPublic):
    lines_by_status: dict[str, int]
    quantities: BatchQuantities
    # The picks' orders and any reorder a test batch earned.
    production_orders: list[ProductionOrderBrief]
    progress: BatchProgress | None


class DemandLinePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    line_no: int
    customer_ref: str
    style_code: str
    colour: str
    size: str
    quantity: int
    personalisation: str | None
    need_by: date
    channel: str
    region: str
    status: DemandLineStatus
    production_order_id: int | None
    reason: str | None


class DemandLinePage(BaseModel):
    total: int
    lines: list[DemandLinePublic]


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its ``$defs`` written in place: embedded in the OpenAPI
    document by hand, a ``#/$defs/...`` reference would point nowhere (schemathesis said
    so, and so would any client generator)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


INTAKE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inlined(DemandBatchCreate.model_json_schema())},
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than the limit of {limit} bytes", field="body")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise PayloadTooLarge(
                f"the body is larger than the limit of {limit} bytes", field="body"
            )
    return bytes(body)


async def _rows_from_request(
    request: Request, raw: bytes
) -> tuple[list[tuple[int, dict[str, Any]]], float | None]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in ("text/csv", "application/csv", "text/plain"):
        return parse_csv(raw), None
    if content_type == "multipart/form-data":
        # The body was already read under the size limit: replay it to the form parser.
        async def replay() -> Message:
            return {"type": "http.request", "body": raw, "more_body": False}

        async with Request(request.scope, replay).form(max_part_size=len(raw) + 1) as form:
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise IntakeError("the multipart form needs a 'file' part with the CSV", "file")
            return parse_csv(await upload.read()), None
    if content_type in ("application/json", ""):
        try:
            payload = DemandBatchCreate.model_validate_json(raw or b"{}")
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise IntakeError(f"{where}: {first['msg']}", where) from err
        if not payload.lines:
            raise IntakeError("lines: the batch has no lines", "lines")
        rows = [(i + 1, line.model_dump()) for i, line in enumerate(payload.lines)]
        return rows, payload.pick_window_hours
    raise UnsupportedMediaType(
        f"unsupported content type {content_type!r}: send application/json, text/csv "
        "or a multipart form with a 'file'",
        field="content-type",
    )


def _styles(session: Session) -> dict[str, StyleInfo]:
    return {
        s.code: StyleInfo(size_run=tuple(s.size_run), colours=tuple(s.colours))
        for s in session.exec(select(Style)).all()
    }


def _public(batch: DemandBatch) -> DemandBatchPublic:
    assert batch.id is not None
    return DemandBatchPublic(
        batch_id=batch.id,
        status=batch.status,
        workflow_id=batch.workflow_id or "",
        accepted_lines=batch.line_count,
        rejected_lines=[LineError.model_validate(r) for r in batch.rejected_lines],
        created_at=batch.created_at,
    )


async def _ensure_workflow(client: Client, batch: DemandBatch, config: ApiConfig) -> None:
    """Start the batch's workflow; starting it again (a retried request) is a no-op."""
    assert batch.id is not None and batch.workflow_id is not None
    try:
        await client.start_workflow(
            DemandBatchWorkflow.run,
            DemandBatchInput(
                batch_id=batch.id,
                team_id=batch.team_id,
                pick_window_hours=batch.pick_window_hours,
                lifecycle=config.lifecycle,
                design_gate=config.design_gate,
            ),
            id=batch.workflow_id,
            task_queue=config.orchestration_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"batch {batch.id} is saved but its workflow could not start ({err}); "
            "retry with the same Idempotency-Key",
        ) from err


class RejectedLines(BaseModel):
    message: str
    on_error: OnError
    rejected_lines: list[LineError]


class RejectedBatch(BaseModel):
    """A batch refused for its lines: nothing was saved."""

    detail: RejectedLines


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DemandBatchPublic,
    openapi_extra=INTAKE_BODY,
    responses={
        413: {"description": "The body is larger than the limit"},
        415: {"description": "The content type is not JSON, CSV or a multipart upload"},
        422: {
            "model": RejectedBatch,
            "description": "Lines were rejected (each with line, field and reason)",
        },
    },
)
async def submit_demand_batch(
    request: Request,
    principal: BuyerDep,
    session: SessionDep,
    client: TemporalDep,
    runtime: RuntimeDep,
    on_error: OnError = OnError.REJECT_BATCH,
    pick_window_hours: Annotated[
        float | None,
        Query(gt=0, le=24 * 30, description="For a CSV body; a JSON body may carry its own."),
    ] = None,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> DemandBatchPublic:
    """Submit customer demand as JSON (`{"lines": [...]}`), a CSV body or a CSV upload.

    With `on_error=reject_batch` (the default) one bad line rejects the batch and nothing is
    saved; with `accept_valid` the good lines are saved and the bad ones are reported and
    kept on the batch. The same `Idempotency-Key` returns the first answer."""
    team_id = principal.scope_id
    if team_id is None:
        raise InvalidInput("this token has no buyer team scope", field="authorization")
    if idempotency_key:
        earlier = await read_and_release(session, _batch_by_key, team_id, idempotency_key)
        if earlier is not None:
            await _ensure_workflow(client, earlier, runtime.config)
            return _public(earlier)

    raw = await _read_body(request, runtime.config.max_body_bytes)
    try:
        rows, window_hours = await _rows_from_request(request, raw)
    except IntakeError as err:
        raise InvalidInput(err.message, field=err.field) from err
    batch = await read_and_release(
        session,
        _save_batch,
        NewBatch(
            team_id=team_id,
            actor=principal.name,
            rows=rows,
            on_error=on_error,
            idempotency_key=idempotency_key,
            pick_window_hours=window_hours or pick_window_hours or runtime.config.pick_window_hours,
        ),
    )
    await _ensure_workflow(client, batch, runtime.config)
    return _public(batch)


@dataclass(frozen=True)
class NewBatch:
    team_id: int
    actor: str
    rows: list[tuple[int, dict[str, Any]]]  # (line number, fields)
    on_error: OnError
    idempotency_key: str | None
    pick_window_hours: float


def _save_batch(session: Session, new: NewBatch) -> DemandBatch:
    """Validate every line and save the batch with its good lines in one transaction (in a
    worker thread: 100,000 lines take seconds to validate, which the event loop must not
    wait for). A bad line refuses it whole unless ``accept_valid``; a concurrent request
    with the same key that saved first is answered with its batch."""
    valid, errors = validate_lines(new.rows, _styles(session), datetime.now(UTC).date())
    if errors and (new.on_error == OnError.REJECT_BATCH or not valid):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "message": f"{len({e.line for e in errors})} of {len(new.rows)} lines were "
                "rejected; nothing was saved",
                "on_error": new.on_error.value,
                "rejected_lines": [e.model_dump() for e in errors],
            },
        )
    batch = DemandBatch(
        team_id=new.team_id,
        idempotency_key=new.idempotency_key,
        line_count=len(valid),
        rejected_lines=[e.model_dump() for e in errors],
        pick_window_hours=new.pick_window_hours,
    )
    session.add(batch)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        earlier = _batch_by_key(session, new.team_id, new.idempotency_key or "")
        assert earlier is not None
        return earlier
    assert batch.id is not None
    batch.workflow_id = f"demand-batch-{batch.id}"
    # One bulk insert (COPY on PostgreSQL), not an ORM object per line: they are validated.
    insert_rows(session, DemandLine, [line.row(batch.id) for line in valid])
    session.add(
        Event(
            actor=new.actor,
            entity="demand_batch",
            entity_id=batch.id,
            kind="received",
            data={"lines": len(valid), "rejected": len(errors)},
        )
    )
    session.commit()
    return batch


def _batch_by_key(session: Session, team_id: int, key: str) -> DemandBatch | None:
    return session.exec(
        select(DemandBatch).where(
            DemandBatch.team_id == team_id, DemandBatch.idempotency_key == key
        )
    ).one_or_none()


def _own_batch(session: Session, batch_id: int, team_id: int | None) -> DemandBatch:
    batch = session.get(DemandBatch, batch_id)
    if batch is None or (team_id is not None and batch.team_id != team_id):
        raise NotFound(f"demand batch {batch_id} not found")
    return batch


class DemandBatchPage(BaseModel):
    total: int = Field(description="Batches matching the filter, over all pages.")
    batches: list[DemandBatchPublic]


@router.get("", response_model=DemandBatchPage)
def list_demand_batches(
    principal: BuyerDep,
    session: SessionDep,
    status_: Annotated[list[BatchStatus] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> DemandBatchPage:
    """The team's batches, newest first (an admin's token: every team's)."""
    where = []
    if principal.scope_id is not None:
        where.append(col(DemandBatch.team_id) == principal.scope_id)
    if status_:
        where.append(col(DemandBatch.status).in_(status_))
    total = session.exec(select(func.count()).select_from(DemandBatch).where(*where)).one()
    rows = session.exec(
        select(DemandBatch)
        .where(*where)
        .order_by(col(DemandBatch.id).desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return DemandBatchPage(total=total, batches=[_public(b) for b in rows])


@router.get("/{batch_id}", response_model=DemandBatchDetail)
async def get_demand_batch(
    batch_id: RowId, principal: BuyerDep, session: SessionDep, client: TemporalDep
) -> DemandBatchDetail:
    """The batch, its lines counted by state, and its workflow's progress."""
    detail = await read_and_release(session, _batch_detail, batch_id, principal.scope_id)
    try:
        handle = client.get_workflow_handle_for(DemandBatchWorkflow.run, detail.workflow_id)
        progress = await answer_of(handle.query(DemandBatchWorkflow.progress))
    except WorkflowDidNotAnswer:
        return detail
    return detail.model_copy(update={"progress": progress})


def _batch_detail(session: Session, batch_id: int, team_id: int | None) -> DemandBatchDetail:
    """Everything of the batch the database holds (its workflow's progress aside)."""
    batch = _own_batch(session, batch_id, team_id)
    counts = session.exec(
        select(DemandLine.status, func.count(), func.coalesce(func.sum(DemandLine.quantity), 0))
        .where(DemandLine.batch_id == batch_id)
        .group_by(col(DemandLine.status))
    ).all()
    orders = session.exec(
        select(ProductionOrder)
        .where(ProductionOrder.batch_id == batch_id)
        .order_by(col(ProductionOrder.id))
    ).all()
    finishes = planned_finishes(session, [o.id or 0 for o in orders])
    by_status = {s.value: 0 for s in DemandLineStatus}
    pieces = dict.fromkeys(DemandLineStatus, 0)
    for line_status, n, quantity in counts:
        by_status[DemandLineStatus(line_status).value] = n
        pieces[DemandLineStatus(line_status)] = int(quantity)
    by_status[DemandLineStatus.REJECTED.value] += len({r["line"] for r in batch.rejected_lines})
    quantities = BatchQuantities(
        accepted=sum(pieces.values()),
        picked=pieces[DemandLineStatus.IN_PRODUCTION] + pieces[DemandLineStatus.SHIPPED],
        declined=pieces[DemandLineStatus.DECLINED],
        open=pieces[DemandLineStatus.OPEN],
        shipped=pieces[DemandLineStatus.SHIPPED],
    )
    return DemandBatchDetail(
        **_public(batch).model_dump(),
        lines_by_status=by_status,
        quantities=quantities,
        production_orders=[with_finish(ProductionOrderBrief, o, finishes) for o in orders],
        progress=None,
    )


@router.get("/{batch_id}/lines", response_model=DemandLinePage)
def list_demand_lines(
    batch_id: RowId,
    principal: BuyerDep,
    session: SessionDep,
    line_status: Annotated[DemandLineStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> DemandLinePage:
    """Every accepted line with its state, production order and reason, in line order.
    Lines rejected at intake are on the batch itself (``rejected_lines``)."""
    _own_batch(session, batch_id, principal.scope_id)
    where = [col(DemandLine.batch_id) == batch_id]
    if line_status is not None:
        where.append(col(DemandLine.status) == line_status)
    total = session.exec(select(func.count()).select_from(DemandLine).where(*where)).one()
    lines = session.exec(
        select(DemandLine)
        .where(*where)
        .order_by(col(DemandLine.line_no))
        .limit(limit)
        .offset(offset)
    ).all()
    return DemandLinePage(
        total=total,
        lines=[DemandLinePublic.model_validate(line) for line in lines],
    )


@router.get(
    "/{batch_id}/aggregate",
    response_model=AggregateDemandResult,
    responses={409: {"description": "The batch is still being aggregated; retry"}},
)
async def get_aggregate(
    batch_id: RowId, principal: BuyerDep, session: SessionDep, client: TemporalDep
) -> AggregateDemandResult | JSONResponse:
    """The aggregated demand the team picks against: totals per style × colour × size,
    personalised units apart, need-by distribution, minimum order quantity and the
    earliest feasible due date per style-colour. 409 with Retry-After until it is ready."""
    batch = await read_and_release(session, _own_batch, batch_id, principal.scope_id)
    handle = client.get_workflow_handle_for(DemandBatchWorkflow.run, batch.workflow_id or "")
    try:
        aggregate = await answer_of(handle.query(DemandBatchWorkflow.aggregate))
    except WorkflowDidNotAnswer as err:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"the batch's workflow did not answer ({err})"
        ) from err
    if aggregate is None:
        return still_aggregating(batch_id)
    return aggregate


def still_aggregating(batch_id: int) -> JSONResponse:
    return JSONResponse(
        {"detail": f"batch {batch_id} is still being aggregated; retry in a moment"},
        status_code=status.HTTP_409_CONFLICT,
        headers={"Retry-After": "1"},
    )


@router.post(
    "/{batch_id}/picks",
    response_model=SubmitPicksResult,
    responses={409: {"description": "Still being aggregated (retry), or the window is closed"}},
)
async def submit_picks(
    batch_id: RowId,
    picks: SubmitPicksInput,
    principal: BuyerDep,
    session: SessionDep,
    client: TemporalDep,
) -> SubmitPicksResult | JSONResponse:
    """Pick or amend what to make from the batch while its pick window is open. The verdict
    (accepted, or why not) comes back synchronously. Until the batch reads "picking", 409
    with Retry-After; from then on the pick is taken (its workflow may take a moment)."""
    batch = await read_and_release(session, _own_batch, batch_id, principal.scope_id)
    if batch.status == BatchStatus.RECEIVED:
        return still_aggregating(batch_id)
    handle = client.get_workflow_handle_for(DemandBatchWorkflow.run, batch.workflow_id or "")
    with update_errors(f"batch {batch_id} is no longer taking picks"):
        return await handle.execute_update(
            DemandBatchWorkflow.submit_picks,
            picks.model_copy(update={"actor": principal.name}),
            rpc_timeout=UPDATE_RPC_TIMEOUT,
        )
