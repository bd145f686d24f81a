"""SQLModel tables: master data (teams, factories, work centres, fabrics, styles) and
transactions (demand, picks, production and work orders, reservations, plans, events).

Times are stored as UTC and always come back tz-aware, on SQLite as on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import JSON, Column, Field, SQLModel, col

from models.scenarios import ScenarioStatus
from models.schemas import (
    BatchStatus,
    DemandLineStatus,
    LifecycleStatus,
    PickDecision,
    PlanStatus,
    ProductionOrderStatus,
    PurchaseOrderStatus,
    ReservationStatus,
    Role,
    TechPackStatus,
    WorkOrderStatus,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns aware UTC: SQLite keeps no zone, PostgreSQL's
    ``timestamptz`` would convert to the session zone; this is the same on both."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = True, **kw: Any) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, **kw))


def _enum(enum_cls: type[StrEnum], default: StrEnum, *, index: bool = False) -> Any:
    """A status column stored as its string value (VARCHAR, not a native PostgreSQL enum,
    so that adding a state later is a plain migration)."""
    col_type = sa.Enum(
        enum_cls,
        native_enum=False,
        length=32,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )
    # The column default too, so that Core bulk inserts get it as ORM inserts do.
    return Field(
        default=default,
        sa_column=Column(col_type, nullable=False, index=index, default=default),
    )


def _json(default: Any) -> Any:
    return Field(default_factory=default, sa_column=Column(JSON, nullable=False))


# ------------------------------------------------------------------ master data


class BuyerTeam(SQLModel, table=True):
    __tablename__ = "buyer_team"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True)
    name: str


class Factory(SQLModel, table=True):
    __tablename__ = "factory"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True)
    name: str
    timezone: str = "UTC"
    # list[models.schemas.Shift] as JSON: the weekly shift calendar.
    shifts: list[dict[str, Any]] = _json(list)
    # ISO dates on which nothing runs.
    holidays: list[str] = _json(list)
    # Extra open periods [[start, end], ...] as ISO datetimes (UTC), outside the shifts:
    # overtime a planner applied with a scenario (``activities.scenarios``).
    overtime: list[list[str]] = _json(list)
    # Down periods a planner applied with a scenario, [[start, end]] as ISO datetimes in
    # UTC: closed time, overtime or not.
    downtime: list[list[str]] = _json(list)
    transport_days_to_hub: float = 1.0
    is_down: bool = False


class WorkCentre(SQLModel, table=True):
    __tablename__ = "work_centre"
    id: int | None = Field(default=None, primary_key=True)
    factory_id: int = Field(foreign_key="factory.id", index=True)
    code: str = Field(unique=True, index=True)
    name: str
    operation_kinds: list[str] = _json(list)
    capacity: int = Field(default=1, ge=1, description="Operations it runs in parallel.")
    efficiency: float = Field(default=0.7, gt=0, le=1.5)
    cost_per_minute: float = 0.0
    # Down periods of this work centre alone, as ``Factory.downtime``.
    downtime: list[list[str]] = _json(list)
    # A quality hold (a defect spike, or a planner's): no new work is placed here and its
    # unclaimed work moves elsewhere, until a planner releases it.
    on_hold: bool = False


class Fabric(SQLModel, table=True):
    __tablename__ = "fabric"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True)
    name: str
    supplier: str
    metres_on_hand: float = Field(default=0.0, ge=0)
    lead_time_days: int = 5
    unit_cost: float = 0.0


class Style(SQLModel, table=True):
    __tablename__ = "style"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, index=True)
    name: str
    garment: str
    size_run: list[str] = _json(list)
    colours: list[str] = _json(list)
    min_order_qty: int = 50
    tech_pack_status: TechPackStatus = _enum(TechPackStatus, TechPackStatus.DRAFT)


class BomLine(SQLModel, table=True):
    """Fabric use of a style: metres per piece by size, plus cutting wastage."""

    __tablename__ = "bom_line"
    id: int | None = Field(default=None, primary_key=True)
    style_id: int = Field(foreign_key="style.id", index=True)
    fabric_id: int = Field(foreign_key="fabric.id")
    consumption_by_size: dict[str, float] = _json(dict)
    wastage_pct: float = 7.0


class RoutingStep(SQLModel, table=True):
    """One operation of a style's routing, in order (``seq``)."""

    __tablename__ = "routing_step"
    __table_args__ = (sa.UniqueConstraint("style_id", "seq"),)
    id: int | None = Field(default=None, primary_key=True)
    style_id: int = Field(foreign_key="style.id", index=True)
    seq: int
    operation_kind: str
    setup_minutes: float = 0.0
    standard_minutes: float = Field(gt=0)


class ApiToken(SQLModel, table=True):
    """A bearer token. Only its SHA-256 is stored; ``scope_id`` is the team or factory."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, index=True)
    name: str
    role: Role = _enum(Role, Role.BUYER)
    scope_id: int | None = None
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    revoked_at: datetime | None = _ts()


# ------------------------------------------------------------------ transactions


class DemandBatch(SQLModel, table=True):
    __tablename__ = "demand_batch"
    # Ids key Temporal workflow ids, so they are never reused (AUTOINCREMENT on SQLite;
    # PostgreSQL sequences never go back).
    __table_args__ = (
        sa.UniqueConstraint("team_id", "idempotency_key"),
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="buyer_team.id", index=True)
    status: BatchStatus = _enum(BatchStatus, BatchStatus.RECEIVED)
    idempotency_key: str | None = None
    workflow_id: str | None = None
    line_count: int = 0
    # Lines refused at intake, kept with line number, field and reason (never dropped).
    rejected_lines: list[dict[str, Any]] = _json(list)
    pick_window_hours: float = 48.0
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class DemandLine(SQLModel, table=True):
    __tablename__ = "demand_line"
    __table_args__ = (sa.UniqueConstraint("batch_id", "line_no"),)
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="demand_batch.id", index=True)
    line_no: int
    customer_ref: str
    style_code: str = Field(index=True)
    colour: str
    size: str
    quantity: int
    personalisation: str | None = None
    need_by: date
    channel: str
    region: str
    status: DemandLineStatus = _enum(DemandLineStatus, DemandLineStatus.OPEN)
    production_order_id: int | None = Field(default=None, foreign_key="production_order.id")
    reason: str | None = None


class Pick(SQLModel, table=True):
    __tablename__ = "pick"
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="demand_batch.id", index=True)
    style_code: str
    colour: str
    decision: PickDecision = _enum(PickDecision, PickDecision.GO)
    quantity: int
    due_date: date | None = None
    priority: int = 1
    test_batch: bool = False
    by_default_rule: bool = False


class ProductionOrder(SQLModel, table=True):
    __tablename__ = "production_order"
    __table_args__ = (
        sa.UniqueConstraint(
            "batch_id",
            "style_code",
            "colour",
            "reorder_round",
            name="uq_production_order_batch_style_colour_round",
        ),
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(foreign_key="demand_batch.id", index=True)
    team_id: int = Field(foreign_key="buyer_team.id", index=True)
    pick_id: int | None = Field(default=None, foreign_key="pick.id")
    # 0: the batch's pick; 1: the reorder after its test batch sold.
    reorder_round: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    style_code: str
    colour: str
    size_breakdown: dict[str, int] = _json(dict)
    quantity: int
    due_date: date | None = None
    priority: int = 1
    # Indexed: the open orders (OPEN_ORDER_STATUSES) are a few among every order ever
    # made, and the order lists filter by status.
    status: ProductionOrderStatus = _enum(
        ProductionOrderStatus, ProductionOrderStatus.CREATED, index=True
    )
    workflow_id: str | None = None
    good_quantity: int = 0
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    completed_at: datetime | None = _ts()


class StyleLifecycle(SQLModel, table=True):
    """A test batch of one style-colour for one team: its sales, the reorder proposal and
    the team's decision (workflows/style_lifecycle.py)."""

    __tablename__ = "style_lifecycle"
    __table_args__ = ({"sqlite_autoincrement": True},)
    id: int | None = Field(default=None, primary_key=True)
    team_id: int = Field(foreign_key="buyer_team.id", index=True)
    style_code: str = Field(index=True)
    colour: str
    test_order_id: int = Field(foreign_key="production_order.id", unique=True)
    status: LifecycleStatus = _enum(LifecycleStatus, LifecycleStatus.WAITING_FOR_SALES)
    workflow_id: str | None = None
    window_closes_at: datetime | None = _ts()
    # models.schemas.ReorderProposal as JSON, once the observation window has closed.
    proposal: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    decision: str | None = None
    reorder_order_id: int | None = Field(default=None, foreign_key="production_order.id")
    reason: str | None = None
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class SalesReport(SQLModel, table=True):
    """Units of a test batch sold on one day in one size; a re-sent report replaces it."""

    __tablename__ = "sales_report"
    __table_args__ = (sa.UniqueConstraint("lifecycle_id", "day", "size"),)
    id: int | None = Field(default=None, primary_key=True)
    lifecycle_id: int = Field(foreign_key="style_lifecycle.id", index=True)
    day: date
    size: str
    units: int
    reported_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class WorkOrder(SQLModel, table=True):
    __tablename__ = "work_order"
    __table_args__ = (
        sa.UniqueConstraint("production_order_id", "seq", "attempt"),
        # A factory's claim queue in plan order: a claim reads one index entry, however
        # long the queue (api/routers/factories.py, _try_claim).
        sa.Index("ix_work_order_claim_queue", "factory_id", "status", "planned_start", "id"),
        # A work centre's latest completions, read after each completion for a defect
        # spike (activities.production._hold_on_defect_spike).
        sa.Index("ix_work_order_centre_completions", "work_centre_id", "completed_at"),
        {"sqlite_autoincrement": True},
    )
    id: int | None = Field(default=None, primary_key=True)
    production_order_id: int = Field(foreign_key="production_order.id", index=True)
    seq: int
    attempt: int = 1
    operation_kind: str
    factory_id: int = Field(foreign_key="factory.id", index=True)
    work_centre_id: int = Field(foreign_key="work_centre.id")
    quantity: int
    size_breakdown: dict[str, int] = _json(dict)
    planned_start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    planned_end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: WorkOrderStatus = _enum(WorkOrderStatus, WorkOrderStatus.PLANNED, index=True)
    lease_holder: str | None = None
    lease_expires_at: datetime | None = _ts()
    # How often a claimant let the lease run out; the second time is a disruption.
    lease_expiries: int = 0
    progress_quantity: int | None = None
    released_at: datetime | None = _ts()
    good_quantity: int | None = None
    # The good pieces by size: what a recut or rework must make up for, size by size.
    good_by_size: dict[str, int] | None = Field(default=None, sa_column=Column(JSON))
    defective_quantity: int | None = None
    completion_key: str | None = None
    completed_at: datetime | None = _ts()
    rejection_reason: str | None = None
    rejection_key: str | None = None


class FabricReservation(SQLModel, table=True):
    __tablename__ = "fabric_reservation"
    __table_args__ = (sa.UniqueConstraint("production_order_id", "fabric_id"),)
    id: int | None = Field(default=None, primary_key=True)
    production_order_id: int = Field(foreign_key="production_order.id", index=True)
    fabric_id: int = Field(foreign_key="fabric.id")
    metres: float
    status: ReservationStatus = _enum(ReservationStatus, ReservationStatus.RESERVED)


class FabricPurchaseOrder(SQLModel, table=True):
    """Fabric bought for one production order whose need the stock could not cover."""

    __tablename__ = "fabric_purchase_order"
    id: int | None = Field(default=None, primary_key=True)
    production_order_id: int = Field(foreign_key="production_order.id", index=True)
    fabric_id: int = Field(foreign_key="fabric.id")
    supplier: str
    metres: float
    status: PurchaseOrderStatus = _enum(
        PurchaseOrderStatus, PurchaseOrderStatus.ORDERED, index=True
    )
    ordered_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    expected_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = _ts()
    metres_delivered: float | None = None
    # The supplier's reference of the delivery: a re-sent confirmation counts once.
    delivery_ref: str | None = Field(default=None, unique=True)


class Shipment(SQLModel, table=True):
    """The pieces that went to one customer's demand line: at most one per line, traced to
    the last operation's work orders whose good pieces it carries."""

    __tablename__ = "shipment"
    id: int | None = Field(default=None, primary_key=True)
    production_order_id: int = Field(foreign_key="production_order.id", index=True)
    demand_line_id: int = Field(foreign_key="demand_line.id", unique=True)
    customer_ref: str
    size: str
    quantity: int
    personalisation: str | None = None
    work_order_ids: list[int] = _json(list)
    shipped_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class Plan(SQLModel, table=True):
    """A version of the live plan. Exactly one row is LIVE; applying a new one supersedes it."""

    __tablename__ = "plan"
    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(unique=True)
    status: PlanStatus = _enum(PlanStatus, PlanStatus.LIVE)
    source: str
    # Bumped on every change to the plan's assignments: writers take the row's lock by
    # bumping it first, and a scenario records it to detect a plan that moved under it.
    revision: int = 0
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class PlanAssignment(SQLModel, table=True):
    __tablename__ = "plan_assignment"
    __table_args__ = (
        # One plan's slots (the superseded plans keep every order ever planned), and of
        # those the ones still ahead, read by every placement: a range, not the open
        # orders' completed operations too (activities.production._busy_minutes).
        sa.Index("ix_plan_assignment_plan_end", "plan_id", "end"),
    )
    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plan.id")  # indexed first in ix_plan_assignment_plan_end
    production_order_id: int = Field(foreign_key="production_order.id", index=True)
    seq: int
    work_centre_id: int = Field(foreign_key="work_centre.id", index=True)
    start: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    end: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


def live_plan_ids() -> sa.Select[int | None]:
    """The live plan's id (one row), to select its slots by: ``IN`` it, or ``==`` its
    ``scalar_subquery()`` (the order lists' grouped read needs that form for SQLite to
    search the (plan_id, end) index). The superseded plans keep the slots of every order
    ever planned, and a join to the plan table made SQLite walk them all."""
    return sa.select(col(Plan.id)).where(col(Plan.status) == PlanStatus.LIVE)


class Scenario(SQLModel, table=True):
    """A planner's what-if: the live plan's problem plus edits, solved on the solver queue
    (``workflows.scenario``). Its results are kept here for the API, the CLI and the web
    page; applying it makes its plan the live one."""

    __tablename__ = "scenario"
    # Ids never come back after a delete: they name the scenario's workflow.
    __table_args__ = {"sqlite_autoincrement": True}
    id: int | None = Field(default=None, primary_key=True)
    name: str = ""
    created_by: str
    status: ScenarioStatus = _enum(ScenarioStatus, ScenarioStatus.QUEUED, index=True)
    # The live plan it was based on: apply refuses if the plan moved since (version and
    # revision both, as ``Plan.revision`` is bumped on every change).
    base_plan_version: int
    base_revision: int
    # The live plan's slots it saw: [order id, seq, work centre id, start, end] (ISO), so
    # an apply after the plan moved knows which operations changed since
    # (activities.rebase).
    base_slots: list[list[Any]] = _json(list)
    # models.scenarios.Edit and ObjectiveWeights as JSON.
    edits: list[dict[str, Any]] = _json(list)
    weights: dict[str, Any] = _json(dict)
    time_limit_s: float = 20.0
    workflow_id: str | None = None
    # The time its plan's minutes count from.
    origin: datetime | None = _ts()
    # models.scenarios.ScenarioProgress, PlanKpis (x3), PlanDiff and LateReason as JSON.
    progress: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    kpis: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    live_kpis: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    greedy_kpis: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    diff: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    late_orders: list[dict[str, Any]] = _json(list)
    # The plan: [order key, routing seq, work centre code, start, end] in minutes from
    # ``origin``; the order key is the production order id, or "rush-N" for a rush order.
    assignments: list[list[Any]] = _json(list)
    stopped_early: bool = False
    error: str | None = None
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    finished_at: datetime | None = _ts()
    applied_at: datetime | None = _ts()


class Event(SQLModel, table=True):
    """The audit trail: one row for every state change, with who and when."""

    __tablename__ = "event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    actor: str
    entity: str = Field(index=True)
    entity_id: int = Field(index=True)
    kind: str
    data: dict[str, Any] = _json(dict)
