"""One demand batch: aggregate it, hold the pick window open for the buyer team, apply the
default rule to what nobody picked, and run one production order per pick as a child.

Deterministic orchestration only: database work happens in activities.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.production_order import ProductionOrderWorkflow
from workflows.steps import LOCAL_DB_STEPS, Patches, run_db_step
from workflows.style_lifecycle import StyleLifecycleWorkflow

with workflow.unsafe.imports_passed_through():
    from activities.demand import DemandActivities
    from models.queues import production_order_workflow_id, style_lifecycle_workflow_id
    from models.schemas import (
        AggregateDemandInput,
        AggregateDemandResult,
        BatchProgress,
        BatchStatus,
        CreatedProductionOrder,
        CreateProductionOrdersInput,
        DemandBatchInput,
        DemandBatchResult,
        LifecycleSettings,
        PickDecision,
        PickItem,
        ProductionOrderInput,
        SetBatchStatusInput,
        StyleLifecycleInput,
        SubmitPicksInput,
        SubmitPicksResult,
    )

A = TypeVar("A")
R = TypeVar("R")

# Batches picked before style lifecycles existed replay without starting one.
STYLE_LIFECYCLES = "style-lifecycles"
# Batches started before a status change rode along with the step before it replay with
# a step of its own for each (production_order.BATCHED_STEPS does the same for orders).
# Batches started since take every earlier patch without asking it (steps.Patches).
BATCHED_STEPS = "batched-steps"


@workflow.defn
class DemandBatchWorkflow:
    def __init__(self) -> None:
        self._batch_id = 0
        self._status = BatchStatus.RECEIVED
        self._aggregate: AggregateDemandResult | None = None
        self._picks: dict[str, PickItem] = {}
        self._window_closed = False
        self._window_closes_at: datetime | None = None
        self._order_ids: list[int] = []
        # Asked in the first activation, before any handler or the run can need it.
        self._patches = Patches(BATCHED_STEPS, included=(LOCAL_DB_STEPS, STYLE_LIFECYCLES))

    @workflow.run
    async def run(self, inp: DemandBatchInput) -> DemandBatchResult:
        self._batch_id = inp.batch_id
        batched = self._patches(BATCHED_STEPS)
        self._aggregate = await self._db(
            DemandActivities.aggregate_demand,
            AggregateDemandInput(
                batch_id=inp.batch_id, then_status=BatchStatus.PICKING if batched else None
            ),
        )
        if batched:
            self._status = BatchStatus.PICKING
        else:
            await self._set_status(BatchStatus.PICKING)
        window = timedelta(hours=inp.pick_window_hours)
        self._window_closes_at = workflow.now() + window
        try:
            await workflow.wait_condition(lambda: self._window_closed, timeout=window)
        except TimeoutError:
            pass
        self._window_closed = True
        # Let a pick update that is mid-flight finish before the picks are read.
        await workflow.wait_condition(workflow.all_handlers_finished)

        picks, default_keys, declined = self._apply_default_rule()
        created = await self._db(
            DemandActivities.create_production_orders,
            CreateProductionOrdersInput(
                batch_id=inp.batch_id,
                team_id=inp.team_id,
                picks=picks,
                declined=declined,
                default_rule_keys=default_keys,
                then_status=BatchStatus.PICKED if batched else None,
            ),
        )
        self._order_ids = [o.production_order_id for o in created.orders]
        if self._patches(STYLE_LIFECYCLES):
            await self._start_lifecycles(created.orders, inp.lifecycle)
        if batched:
            self._status = BatchStatus.PICKED
        else:
            await self._set_status(BatchStatus.PICKED)
        # One order failing (say, fabric it cannot get) must not stop its siblings.
        outcomes = await asyncio.gather(
            *(
                workflow.execute_child_workflow(
                    ProductionOrderWorkflow.run,
                    ProductionOrderInput(production_order_id=order_id, design_gate=inp.design_gate),
                    id=production_order_workflow_id(order_id),
                )
                for order_id in self._order_ids
            ),
            return_exceptions=True,
        )
        failed = [
            order_id
            for order_id, outcome in zip(self._order_ids, outcomes, strict=True)
            if isinstance(outcome, BaseException)
        ]
        await self._set_status(BatchStatus.DONE)
        return DemandBatchResult(
            batch_id=inp.batch_id,
            production_order_ids=self._order_ids,
            failed_production_order_ids=failed,
            declined=declined,
        )

    async def _start_lifecycles(
        self, orders: list[CreatedProductionOrder], settings: LifecycleSettings
    ) -> None:
        """One style lifecycle per test batch. It outlives the batch (it waits weeks for
        sales), so the batch only starts it and does not wait for it."""
        for order in orders:
            if order.lifecycle_id is None:
                continue
            await workflow.start_child_workflow(
                StyleLifecycleWorkflow.run,
                StyleLifecycleInput(lifecycle_id=order.lifecycle_id, settings=settings),
                id=style_lifecycle_workflow_id(order.lifecycle_id),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            )

    async def _db(self, method: Callable[[Any, A], R], arg: A) -> R:
        """A database step (``steps.run_db_step``) with this run's patches."""
        return await run_db_step(method, arg, self._patches)

    async def _set_status(self, status: BatchStatus) -> None:
        await self._db(
            DemandActivities.set_batch_status,
            SetBatchStatusInput(batch_id=self._batch_id, status=status),
        )
        self._status = status

    def _apply_default_rule(self) -> tuple[list[PickItem], list[str], list[str]]:
        """Picks as the team made them, plus the default rule for every style-colour it left
        alone: go where the minimum order quantity is met, otherwise declined."""
        assert self._aggregate is not None
        picks = list(self._picks.values())
        default_keys: list[str] = []
        declined: list[str] = []
        for demand in self._aggregate.by_style_colour:
            if demand.key in self._picks:
                continue
            if demand.meets_moq:
                picks.append(
                    PickItem.model_validate({"style": demand.style_code, "colour": demand.colour})
                )
                default_keys.append(demand.key)
            else:
                declined.append(demand.key)
        return picks, default_keys, declined

    @workflow.update
    async def submit_picks(self, inp: SubmitPicksInput) -> SubmitPicksResult:
        """Add or amend picks (the last word per style-colour counts); optionally close.

        A pick can arrive before the workflow has seen its aggregation step end: the step
        commits the batch's "picking" status, and when it outlasts a workflow task, the
        worker completes the task with the step still open and the next task brings the
        update. Such a pick waits for the aggregate and is checked against it then."""
        if self._aggregate is None:
            await workflow.wait_condition(lambda: self._aggregate is not None)
            self._validate_picks(inp)
        for pick in inp.picks:
            self._picks[pick.key] = pick
        if inp.close_window:
            self._window_closed = True
        return SubmitPicksResult(
            accepted=[p.key for p in inp.picks], window_open=not self._window_closed
        )

    @submit_picks.validator
    def _validate_picks(self, inp: SubmitPicksInput) -> None:
        if self._window_closed:
            raise ApplicationError("the pick window is closed", type="Conflict")
        if self._aggregate is not None:  # else the handler checks once it is there
            self._check_picks(inp)

    def _check_picks(self, inp: SubmitPicksInput) -> None:
        """Every pick names open demand of this batch, with a quantity and due date it can
        be made to."""
        assert self._aggregate is not None
        in_batch = {d.key: d for d in self._aggregate.by_style_colour}
        today = workflow.now().date()
        for i, pick in enumerate(inp.picks):
            where = f"picks[{i}]"
            demand = in_batch.get(pick.key)
            if demand is None:
                raise ApplicationError(
                    f"{where}: {pick.key} has no open demand in this batch", type="InvalidInput"
                )
            if pick.decision == PickDecision.GO and pick.quantity is not None and pick.quantity < 1:
                raise ApplicationError(f"{where}.quantity must be at least 1", type="InvalidInput")
            if pick.due_date is None:
                continue
            if pick.due_date < today:
                raise ApplicationError(
                    f"{where}.due_date {pick.due_date} is in the past", type="InvalidInput"
                )
            feasible = demand.earliest_feasible_due
            if pick.decision == PickDecision.GO and feasible and pick.due_date < feasible:
                raise ApplicationError(
                    f"{where}.due_date {pick.due_date} is before the earliest feasible date "
                    f"{feasible} (minimum production time and fabric lead time)",
                    type="InvalidInput",
                )

    @workflow.query
    def aggregate(self) -> AggregateDemandResult | None:
        """The aggregated demand the picks are made against; None until it is ready."""
        return self._aggregate

    @workflow.query
    def progress(self) -> BatchProgress:
        return BatchProgress(
            batch_id=self._batch_id,
            status=self._status,
            window_closes_at=self._window_closes_at,
            picks=list(self._picks.values()),
            production_order_ids=list(self._order_ids),
        )
