"""Plain pydantic models: enums, value objects and every workflow/activity payload.

Safe to import inside the Temporal workflow sandbox: no SQLModel, no I/O.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum
from typing import Annotated

from annotated_types import Ge, Le
from pydantic import BaseModel, ConfigDict, Field, model_validator

# A row id or a count as callers may send it: what both databases' 4-byte integer columns
# hold. A larger number is refused as invalid input naming the field, not left for the
# database to overflow on (a 500 schemathesis found).
MAX_INT = 2_147_483_647
RowId = Annotated[int, Ge(1), Le(MAX_INT)]


class Role(StrEnum):
    BUYER = "buyer"
    FACTORY = "factory"
    PLANNER = "planner"
    DESIGNER = "designer"
    ADMIN = "admin"


class TechPackStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"


class BatchStatus(StrEnum):
    RECEIVED = "received"
    PICKING = "picking"
    PICKED = "picked"
    DONE = "done"


class DemandLineStatus(StrEnum):
    OPEN = "open"
    IN_PRODUCTION = "in_production"
    SHIPPED = "shipped"
    DECLINED = "declined"
    REJECTED = "rejected"


class OnError(StrEnum):
    """What a bad line does to its demand batch at intake."""

    REJECT_BATCH = "reject_batch"
    ACCEPT_VALID = "accept_valid"


class PickDecision(StrEnum):
    GO = "go"
    NO_GO = "no_go"


class LifecycleStatus(StrEnum):
    """A style-colour's test batch, from its first sales to the reorder decision."""

    WAITING_FOR_SALES = "waiting_for_sales"
    OBSERVING = "observing"
    AWAITING_DECISION = "awaiting_decision"
    REORDERED = "reordered"
    STOPPED = "stopped"


# A lifecycle in these states takes sales reports.
SALES_LIFECYCLE_STATUSES = (LifecycleStatus.WAITING_FOR_SALES, LifecycleStatus.OBSERVING)
# A lifecycle in these states still takes sales reports or a decision.
ACTIVE_LIFECYCLE_STATUSES = (
    LifecycleStatus.WAITING_FOR_SALES,
    LifecycleStatus.OBSERVING,
    LifecycleStatus.AWAITING_DECISION,
)


class ReorderDecision(StrEnum):
    ACCEPT = "accept"
    CHANGE = "change"
    DECLINE = "decline"


class ProductionOrderStatus(StrEnum):
    CREATED = "created"
    AWAITING_DESIGN = "awaiting_design"
    AWAITING_FABRIC = "awaiting_fabric"
    FABRIC_RESERVED = "fabric_reserved"
    SCHEDULED = "scheduled"
    IN_PRODUCTION = "in_production"
    DONE = "done"
    CANCELLED = "cancelled"


# An order in these has nothing left to plan, make or cancel.
CLOSED_ORDER_STATUSES = (ProductionOrderStatus.DONE, ProductionOrderStatus.CANCELLED)
# The rest, named: a query for them can use the status index ("not closed" cannot), and
# PostgreSQL's statistics tell how few they are among every order ever made.
OPEN_ORDER_STATUSES = tuple(s for s in ProductionOrderStatus if s not in CLOSED_ORDER_STATUSES)


class WorkOrderStatus(StrEnum):
    PLANNED = "planned"
    RELEASED = "released"
    CLAIMED = "claimed"
    STARTED = "started"
    COMPLETED = "completed"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


# A work order in these states is held by a claimant under a lease.
LEASED_STATUSES = (WorkOrderStatus.CLAIMED, WorkOrderStatus.STARTED)


class PurchaseOrderStatus(StrEnum):
    ORDERED = "ordered"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class ReservationStatus(StrEnum):
    RESERVED = "reserved"
    CONSUMED = "consumed"
    RELEASED = "released"


class PlanStatus(StrEnum):
    LIVE = "live"
    SUPERSEDED = "superseded"


# ---------------------------------------------------------------- value objects


class Shift(BaseModel):
    """One working shift on the given ISO weekdays (1 = Monday)."""

    weekdays: list[int] = Field(min_length=1)
    start: time
    end: time


class SizeQuantity(BaseModel):
    size: str
    quantity: int = Field(ge=0, le=1_000_000)


# ---------------------------------------------------------------- demand batch workflow


class LifecycleSettings(BaseModel):
    """How a test batch is judged (models.rules.propose_reorder): sales are observed for
    ``observation_days`` from the first report, the team has ``decision_hours`` to answer
    the proposal, and a style that has had no sales for ``sales_wait_days`` stops."""

    observation_days: float = Field(default=14.0, gt=0)
    decision_hours: float = Field(default=72.0, gt=0)
    sales_wait_days: float = Field(default=60.0, gt=0)
    cover_days: int = Field(default=28, ge=1)
    min_sell_through: float = Field(default=0.5, ge=0, le=1)
    # A day of wild sales (or a feed counting twice) must not order a mountain of stock.
    max_reorder_factor: float = Field(default=10.0, gt=0)


class DesignGateSettings(BaseModel):
    """How long an order waits for its style's tech pack: the designers are reminded (an
    ``escalated`` event) after ``escalate_hours``, the order is cancelled after
    ``cancel_hours``."""

    escalate_hours: float = Field(default=24.0, gt=0)
    cancel_hours: float = Field(default=120.0, gt=0)

    @model_validator(mode="after")
    def _escalate_before_cancel(self) -> DesignGateSettings:
        if self.cancel_hours <= self.escalate_hours:
            raise ValueError("cancel_hours must be longer than escalate_hours")
        return self


class DemandBatchInput(BaseModel):
    batch_id: int
    team_id: int
    pick_window_hours: float = Field(default=48.0, gt=0)
    lifecycle: LifecycleSettings = Field(default_factory=LifecycleSettings)
    design_gate: DesignGateSettings = Field(default_factory=DesignGateSettings)


class DemandBatchResult(BaseModel):
    batch_id: int
    production_order_ids: list[int]
    failed_production_order_ids: list[int] = Field(default_factory=list)
    declined: list[str]


class AggregateDemandInput(BaseModel):
    batch_id: int
    # The batch's status once aggregated (none in histories from before it was batched).
    then_status: BatchStatus | None = None


class AggregateRow(BaseModel):
    """Stock units of one style × colour × size (personalised lines are counted apart)."""

    style_code: str
    colour: str
    size: str
    quantity: int
    lines: int


class PersonalisedUnit(BaseModel):
    """A personalised line stays its own unit: it is made for one customer only."""

    line_no: int
    customer_ref: str
    style_code: str
    colour: str
    size: str
    quantity: int
    personalisation: str


class NeedByQuantity(BaseModel):
    need_by: date
    quantity: int


class StyleColourDemand(BaseModel):
    style_code: str
    colour: str
    quantity: int
    min_order_qty: int
    earliest_need_by: date
    sizes: list[SizeQuantity]
    personalised_quantity: int = 0
    need_by: list[NeedByQuantity] = Field(default_factory=list)
    # The earliest due date a pick may ask for: see activities.demand.earliest_feasible_due.
    earliest_feasible_due: date | None = None

    @property
    def key(self) -> str:
        return f"{self.style_code}/{self.colour}"

    @property
    def meets_moq(self) -> bool:
        return self.quantity >= self.min_order_qty


class AggregateDemandResult(BaseModel):
    batch_id: int
    rows: list[AggregateRow]
    by_style_colour: list[StyleColourDemand]
    personalised: list[PersonalisedUnit] = Field(default_factory=list)


class PickItem(BaseModel):
    # Callers say "style"; the Temporal converter serialises by field name: accept both.
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    style_code: str = Field(alias="style")
    colour: str
    decision: PickDecision = PickDecision.GO
    quantity: int | None = Field(
        default=None, ge=1, le=1_000_000, description="Defaults to the aggregated demand."
    )
    due_date: date | None = None
    priority: int = Field(default=1, ge=1, le=10)
    test_batch: bool = False

    @property
    def key(self) -> str:
        return f"{self.style_code}/{self.colour}"


class SubmitPicksInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    picks: list[PickItem] = Field(min_length=1)
    close_window: bool = Field(
        default=False, description="Close the pick window now and start production."
    )
    actor: str = "buyer"


class SubmitPicksResult(BaseModel):
    accepted: list[str]
    window_open: bool


class BatchProgress(BaseModel):
    """What the batch workflow reports through its query."""

    batch_id: int
    status: BatchStatus
    window_closes_at: datetime | None
    picks: list[PickItem]
    production_order_ids: list[int]


class SetBatchStatusInput(BaseModel):
    batch_id: int
    status: BatchStatus


class CreateProductionOrdersInput(BaseModel):
    batch_id: int
    team_id: int
    picks: list[PickItem]
    declined: list[str]
    default_rule_keys: list[str]
    # The batch's status once the orders are made (as above).
    then_status: BatchStatus | None = None


class CreatedProductionOrder(BaseModel):
    production_order_id: int
    style_code: str
    colour: str
    # Set when the pick was a test batch: the style lifecycle that judges its sales.
    lifecycle_id: int | None = None


class CreateProductionOrdersResult(BaseModel):
    orders: list[CreatedProductionOrder]


class RecordEventInput(BaseModel):
    entity: str
    entity_id: int
    kind: str
    actor: str = "system"
    data: dict[str, str | int | float | bool | None] = Field(default_factory=dict)


# ---------------------------------------------------------------- production order workflow


class ProductionOrderInput(BaseModel):
    production_order_id: int
    design_gate: DesignGateSettings = Field(default_factory=DesignGateSettings)
    # A fabric purchase not delivered this long after its supplier's lead time escalates.
    fabric_slack_hours: float = Field(default=48.0, gt=0)


class DesignGateEventInput(BaseModel):
    production_order_id: int
    waited_hours: float


class ProductionOrderResult(BaseModel):
    production_order_id: int
    status: ProductionOrderStatus
    good_quantity: int
    shipped_lines: int


class CheckDesignGateResult(BaseModel):
    style_code: str
    approved: bool
    # For the order's search attributes; empty in results recorded before they existed.
    team_code: str = ""


class FabricPurchase(BaseModel):
    purchase_order_id: int
    fabric_code: str
    metres: float
    expected_at: datetime
    # Hours from the activity's answer to ``expected_at``: the workflow times its wait by
    # this, not by comparing a wall-clock time with its own (replayable) clock.
    due_in_hours: float = 0.0


class ReserveFabricResult(BaseModel):
    reservation_ids: list[int]
    metres: float
    # Not enough stock: nothing was reserved, and these purchases are on their way.
    purchase_orders: list[FabricPurchase] = Field(default_factory=list)


class FabricLateInput(BaseModel):
    production_order_id: int
    purchase_order_ids: list[int]


class ScheduleOrderInput(BaseModel):
    production_order_id: int


class PlannedOperation(BaseModel):
    seq: int
    operation_kind: str
    factory_id: int
    work_centre_id: int
    quantity: int
    start: datetime
    end: datetime


class ScheduleOrderResult(BaseModel):
    plan_version: int
    operations: list[PlannedOperation]


class CreateWorkOrdersResult(BaseModel):
    work_order_ids: list[int]


class ReleaseWorkOrderInput(BaseModel):
    work_order_id: int


class CompleteWorkOrderInput(BaseModel):
    """A factory's completion, as the API hands it to the production-order workflow."""

    model_config = ConfigDict(extra="forbid")

    work_order_id: int
    factory_id: int
    lease_holder: str
    good: list[SizeQuantity]
    defective: list[SizeQuantity] = Field(default_factory=list)
    idempotency_key: str | None = None
    # Who reported it (the token's name), for the trail; histories before it have none.
    actor: str | None = None


class CompleteWorkOrderResult(BaseModel):
    """What the completion fixed; a retry with the same key gets exactly this again."""

    work_order_id: int
    production_order_id: int
    good_quantity: int
    defective_quantity: int
    work_centre_on_hold: bool = Field(
        default=False,
        description="The work centre is on a quality hold as this completion leaves it: a "
        "defect spike among its latest completions, this one included, or a planner's hold.",
    )


class CancelOrderInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)
    actor: str = "buyer"


class CancelOrderResult(BaseModel):
    production_order_id: int
    accepted: bool


class CompensateInput(BaseModel):
    production_order_id: int
    reason: str
    actor: str


class CompensationResult(BaseModel):
    """What the cancellation undid, step by step (each count 0 when done again)."""

    withdrawn_work_orders: int
    freed_plan_slots: int
    released_metres: float
    consumed_metres: float
    cancelled_purchase_orders: int
    declined_lines: int


class ReplanInput(BaseModel):
    work_order_id: int
    reason: str


class ReplanResult(BaseModel):
    """The work order that replaces a failed one (another work centre where one can do
    the operation), or None when the failed one is being worked on again after all."""

    work_order_id: int | None
    work_centre_id: int | None = None
    same_work_centre: bool = False


class MakeUpInput(BaseModel):
    work_order_id: int


class MakeUpResult(BaseModel):
    """The work order that makes up a completion's shortfall (a recut of the cutting, a
    rework of a later operation), or None when nothing is short or the attempts ran out."""

    work_order_id: int | None
    kind: str = ""
    quantity: int = 0


class StartOrderResult(BaseModel):
    """How far an order's start got in one transaction: past the design gate, the fabric,
    the placement and the work orders (``work_order_ids``), or stopped at a closed gate
    or a fabric shortage with nothing written, for the workflow to wait step by step."""

    gate: CheckDesignGateResult
    fabric_short: bool = False
    work_order_ids: list[int] = []


class NextStepInput(BaseModel):
    completed_work_order_id: int
    # The next operation's work order, released if the completed one is not short.
    next_work_order_id: int | None = None


class NextStepResult(BaseModel):
    make_up: MakeUpResult
    next_released: bool


class ShipOrderResult(BaseModel):
    shipped_lines: int
    good_quantity: int


class LeaseExpired(BaseModel):
    """A claimant let a work order's lease run out; ``expiries`` counts how often."""

    work_order_id: int
    production_order_id: int
    expiries: int


class DisruptionKind(StrEnum):
    LEASE_EXPIRED_TWICE = "lease_expired_twice"
    REJECTED = "rejected"
    FACTORY_DOWN = "factory_down"
    PLAN_CHANGED = "plan_changed"  # an applied scenario moved it
    QUALITY_HOLD = "quality_hold"  # its work centre is on a quality hold


class FactoryDown(BaseModel):
    """A planner marked a factory down: these work orders of the order must move."""

    factory_code: str
    work_order_ids: list[int]
    reason: str


class WorkCentreHeld(BaseModel):
    """A work centre went on a quality hold: these work orders of the order must move."""

    work_centre_code: str
    work_order_ids: list[int]
    reason: str


class Disruption(BaseModel):
    """Something that stops a work order from being done as planned: issue 5 re-plans."""

    kind: DisruptionKind
    work_order_id: int
    detail: str


class RejectWorkOrderInput(BaseModel):
    """A factory's refusal of a claimed work order, as the API hands it to the workflow."""

    model_config = ConfigDict(extra="forbid")

    work_order_id: int
    factory_id: int
    lease_holder: str
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: str | None = None
    actor: str | None = None  # as CompleteWorkOrderInput's


class RejectWorkOrderResult(BaseModel):
    """What the rejection fixed; a retry with the same key gets exactly this again."""

    work_order_id: int
    production_order_id: int
    reason: str


class ExpireLeasesInput(BaseModel):
    pass


class ExpireLeasesResult(BaseModel):
    expired: list[LeaseExpired]


class LeaseSweeperInput(BaseModel):
    interval_seconds: float = Field(default=15.0, gt=0)
    rounds_before_continue_as_new: int = Field(default=500, ge=1)


class OrderProgress(BaseModel):
    production_order_id: int
    status: ProductionOrderStatus
    work_order_ids: list[int]
    completed_work_order_ids: list[int]
    # Rejections and second lease expiries: what the re-planning of issue 5 acts on.
    disruptions: list[Disruption] = Field(default_factory=list)


# ---------------------------------------------------------------- style lifecycle workflow


class StyleLifecycleInput(BaseModel):
    lifecycle_id: int
    settings: LifecycleSettings = Field(default_factory=LifecycleSettings)


class SizeUnits(BaseModel):
    size: str
    units: int = Field(ge=0, le=1_000_000)


class SalesReportInput(BaseModel):
    """Units sold on one day, by size. A second report for the same day and size replaces
    the first (a re-sent report counts once)."""

    model_config = ConfigDict(extra="forbid")

    day: date
    sizes: list[SizeUnits] = Field(min_length=1)
    lifecycle_id: int = 0
    actor: str = "buyer"


class SalesReportResult(BaseModel):
    lifecycle_id: int
    status: LifecycleStatus
    days_reported: int
    units_sold: int
    window_closes_at: datetime | None


class ReorderProposal(BaseModel):
    """What the rule proposes at the end of the observation window, and why."""

    quantity: int
    size_breakdown: dict[str, int]
    received: int
    units_sold: int
    observed_days: float
    daily_rate: float
    sell_through: float
    reason: str


class ReorderDecisionInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: ReorderDecision
    quantity: int | None = Field(
        default=None, description="Required to change the proposal: the pieces to make."
    )
    due_date: date | None = None
    actor: str = "buyer"


class ReorderDecisionResult(BaseModel):
    lifecycle_id: int
    decision: ReorderDecision
    quantity: int


class CreateReorderInput(BaseModel):
    lifecycle_id: int
    quantity: int
    due_date: date | None = None
    actor: str = "buyer"


class StopLifecycleInput(BaseModel):
    lifecycle_id: int
    reason: str
    declined: bool = Field(default=False, description="The team declined the reorder.")


class ProposeReorderInput(BaseModel):
    lifecycle_id: int
    observed_days: float
    settings: LifecycleSettings


class SetLifecycleStatusInput(BaseModel):
    lifecycle_id: int
    status: LifecycleStatus
    window_closes_at: datetime | None = None


class LifecycleProgress(BaseModel):
    lifecycle_id: int
    status: LifecycleStatus
    window_closes_at: datetime | None
    decision_due_at: datetime | None
    proposal: ReorderProposal | None
    reorder_production_order_id: int | None


class LifecycleResult(BaseModel):
    lifecycle_id: int
    status: LifecycleStatus
    reorder_production_order_id: int | None
    reason: str
