"""What-if scenarios: the edits a planner makes to the live plan's problem, and what a
scenario reports back (progress, KPIs, the difference from the live plan).

Value objects only: ``activities.scenarios`` turns the live plan plus these edits into an
``optimizer`` problem, the API and the CLI show the results.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.schemas import RowId


class _Edit(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Period(_Edit):
    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _ordered(self) -> _Period:
        if self.end <= self.start:
            raise ValueError(
                f"end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )
        return self


class FactoryDownEdit(_Period):
    """Nothing runs at the factory in [start, end)."""

    kind: Literal["factory_down"] = "factory_down"
    factory: str = Field(min_length=1)


class WorkCentreDownEdit(_Period):
    """Nothing runs on the work centre in [start, end)."""

    kind: Literal["work_centre_down"] = "work_centre_down"
    work_centre: str = Field(min_length=1)


class OvertimeEdit(_Period):
    """The factory works [start, end) too, whatever its calendar says. Applied, the period
    stays in the factory's calendar (``Factory.overtime``)."""

    kind: Literal["overtime"] = "overtime"
    factory: str = Field(min_length=1)


class CapacityEdit(_Edit):
    """The work centre runs this many operations at once (a second shift crew, a line
    borrowed), or works at another efficiency."""

    kind: Literal["capacity"] = "capacity"
    work_centre: str = Field(min_length=1)
    capacity: int | None = Field(default=None, ge=1, le=20)
    efficiency: float | None = Field(default=None, gt=0, le=1.5)

    @model_validator(mode="after")
    def _something(self) -> CapacityEdit:
        if self.capacity is None and self.efficiency is None:
            raise ValueError("give capacity, efficiency or both")
        return self


class RushOrderEdit(_Edit):
    """A new order of ``quantity`` pieces of a style, due at ``due``: what would it do to
    the plan? (A what-if only: applying the scenario does not create it; a team's pick does.)"""

    kind: Literal["rush"] = "rush"
    style: str = Field(min_length=1)
    colour: str = ""
    quantity: int = Field(gt=0, le=10_000)
    due: AwareDatetime
    weight: float = Field(default=3.0, ge=0, le=100)


class DueDateEdit(_Edit):
    """A production order's due date, or its weight (priority), changed."""

    kind: Literal["due_date"] = "due_date"
    production_order_id: RowId
    due: AwareDatetime | None = None
    weight: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _something(self) -> DueDateEdit:
        if self.due is None and self.weight is None:
            raise ValueError("give due, weight or both")
        return self


class FabricDelayEdit(_Edit):
    """The fabric of a production order arrives only at ``until``: its first operation
    that has not started cannot start before."""

    kind: Literal["fabric_delay"] = "fabric_delay"
    production_order_id: RowId
    until: AwareDatetime


Edit = Annotated[
    FactoryDownEdit
    | WorkCentreDownEdit
    | OvertimeEdit
    | CapacityEdit
    | RushOrderEdit
    | DueDateEdit
    | FabricDelayEdit,
    Field(discriminator="kind"),
]


class ObjectiveWeights(BaseModel):
    """The objective's weights (``optimizer.problem.Weights``), named for planners."""

    model_config = ConfigDict(extra="forbid")

    weighted_tardiness: float = Field(default=1.0, ge=0)
    makespan: float = Field(default=0.0, ge=0)
    lead_time: float = Field(default=0.0, ge=0)
    cost: float = Field(default=0.0, ge=0)
    changeovers: float = Field(default=0.0, ge=0)
    plan_changes: float = Field(default=1.0, ge=0)


class ScenarioRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", max_length=200)
    edits: list[Edit] = Field(default_factory=list, max_length=200)
    weights: ObjectiveWeights = Field(default_factory=ObjectiveWeights)
    time_limit_s: float = Field(default=20.0, gt=0, le=600)


# Why a scenario stopped by a planner before its solve began has no plan.
STOPPED = "stopped before it had a plan"


def stored_period(start: datetime, end: datetime) -> list[str]:
    """A period as ``Factory.overtime`` and ``downtime`` and ``WorkCentre.downtime`` keep it:
    [start, end] in ISO 8601, UTC. Applying one and withdrawing it must spell it alike."""
    return [start.astimezone(UTC).isoformat(), end.astimezone(UTC).isoformat()]


def plan_moved(scenario_id: int, then: tuple[int, int], now: tuple[int, int]) -> str:
    """Why a scenario cannot be applied: the live plan's (version, revision) moved."""
    return (
        f"the live plan moved since scenario {scenario_id} was based on it (version "
        f"{then[0]} revision {then[1]} then, version {now[0]} revision {now[1]} now): "
        "run the scenario again"
    )


def plan_collides(
    scenario_id: int, then: tuple[int, int], now: tuple[int, int], collision: str
) -> str:
    """Why a scenario cannot be applied over what changed in the live plan since."""
    return (
        f"the live plan moved since scenario {scenario_id} was based on it (version "
        f"{then[0]} revision {then[1]} then, version {now[0]} revision {now[1]} now), and "
        f"what changed collides with the scenario's plan: {collision}; run the scenario again"
    )


class ScenarioStatus(StrEnum):
    QUEUED = "queued"
    SOLVING = "solving"
    DONE = "done"  # a plan, ready to compare and apply
    FAILED = "failed"
    CANCELLED = "cancelled"  # stopped before it had a plan
    APPLIED = "applied"
    EXPIRED = "expired"  # not applied within its lifetime


class ScenarioProgress(BaseModel):
    elapsed_s: float
    objective: float | None = None
    best_bound: float | None = None
    gap: float | None = None
    solutions: int = 0
    at: datetime | None = None


class PlanKpis(BaseModel):
    """A plan's KPIs on the scenario's clock, in hours where it is time."""

    objective: float
    makespan_h: float
    on_time_pct: float
    total_tardiness_h: float
    max_tardiness_h: float
    mean_lead_time_h: float
    cost: float
    transfers: int
    changeovers: int
    late_orders: int
    status: str = ""
    gap: float | None = None


class OrderShift(BaseModel):
    """One order that finishes at another time in the scenario than in the live plan."""

    production_order_id: int
    live_finish: datetime
    scenario_finish: datetime
    hours: float  # negative: earlier


class PlanDiff(BaseModel):
    earlier: list[OrderShift] = Field(default_factory=list)
    later: list[OrderShift] = Field(default_factory=list)
    operations_moved: int = 0
    operations: int = 0


class LateReason(BaseModel):
    order: str
    tardiness_h: float
    reasons: list[str]


class ScenarioView(BaseModel):
    id: int
    name: str
    status: ScenarioStatus
    created_by: str
    created_at: datetime
    finished_at: datetime | None = None
    applied_at: datetime | None = None
    base_plan_version: int
    base_revision: int = 0
    # A finished scenario not applied yet: how many times the live plan changed since its
    # snapshot (placements, re-plans, make-ups), which applying keeps; None if another
    # plan was applied since (it can only be run again) or it has no plan to apply.
    live_changes_since: int | None = None
    edits: list[Edit]
    weights: ObjectiveWeights
    time_limit_s: float
    progress: ScenarioProgress | None = None
    kpis: PlanKpis | None = None
    live_kpis: PlanKpis | None = None
    greedy_kpis: PlanKpis | None = None
    diff: PlanDiff | None = None
    late_orders: list[LateReason] = Field(default_factory=list)
    stopped_early: bool = False
    error: str | None = None


class ScenarioInput(BaseModel):
    """What the scenario workflow is started with."""

    scenario_id: int
    time_limit_s: float
    # The solver's own task queue, and how long a finished scenario waits to be applied
    # before it expires.
    solver_task_queue: str
    keep_hours: float = 24.0


class FinishScenarioInput(BaseModel):
    scenario_id: int
    status: ScenarioStatus
    error: str | None = None


class ApplyInput(BaseModel):
    scenario_id: int
    actor: str


class PlanChanged(BaseModel):
    """Sent to a production order whose released, unclaimed work orders the applied plan
    moves: each is withdrawn and placed again where the live plan now says."""

    plan_version: int
    work_order_ids: list[int]


class ApplyResult(BaseModel):
    scenario_id: int
    plan_version: int
    # to another work centre or start time, counted as the scenario's diff counts them
    operations_moved: int = 0
    work_orders_moved: int  # not yet released: moved in place
    work_orders_replaced: int  # released, not claimed: withdrawn, a new one placed
    # placed or changed in the live plan since the scenario's snapshot: kept where they are
    operations_kept: int = 0
    # placed since and in the scenario's way, their work not yet claimed: placed again
    orders_placed_again: list[int] = Field(default_factory=list)
    orders_notified: list[int] = Field(default_factory=list)
    changes: list[tuple[str, list[int]]] = Field(
        default_factory=list, description="(workflow id, work order ids) told to move."
    )

    def summary(self) -> str:
        """What the apply did, in the words the planning page, the CLI and the demo say."""
        again = ", ".join(map(str, self.orders_placed_again)) or "none"
        return (
            f"live plan version {self.plan_version}; {self.operations_moved} operations "
            f"moved ({self.operations_kept} placed or changed since kept where they were), "
            f"{self.work_orders_moved} unreleased work orders moved with them, "
            f"{self.work_orders_replaced} released ones replaced; orders placed again "
            f"around it: {again}"
        )
