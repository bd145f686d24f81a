"""A test batch of one style-colour, judged by its sales: trial and error, corrected fast.

1. Wait for the first sales report (a style that sells nothing for ``sales_wait_days``
   stops). The observation window runs ``observation_days`` from that first report;
   daily reports arrive as an Update (``report_sales``), each stored by an activity.
2. When the window closes, the reorder rule (models.rules.propose_reorder) proposes a
   quantity from the sell-through.
3. The buyer team accepts, changes or declines it through an Update (``decide``) within
   ``decision_hours``; no answer stops the style with that reason.
4. An accepted (or changed) reorder becomes a new production order, run as a child.

Deterministic orchestration only: every side effect is an activity.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from workflows.production_order import ProductionOrderWorkflow
from workflows.steps import run_db_step

with workflow.unsafe.imports_passed_through():
    from activities.lifecycle import LifecycleActivities
    from models.queues import production_order_workflow_id
    from models.rules import MIN_PRODUCTION_DAYS
    from models.schemas import (
        SALES_LIFECYCLE_STATUSES,
        CreateReorderInput,
        LifecycleProgress,
        LifecycleResult,
        LifecycleStatus,
        ProductionOrderInput,
        ProposeReorderInput,
        ReorderDecision,
        ReorderDecisionInput,
        ReorderDecisionResult,
        ReorderProposal,
        SalesReportInput,
        SalesReportResult,
        SetLifecycleStatusInput,
        StopLifecycleInput,
        StyleLifecycleInput,
    )


@workflow.defn
class StyleLifecycleWorkflow:
    def __init__(self) -> None:
        self._id = 0
        self._status = LifecycleStatus.WAITING_FOR_SALES
        self._started_on = workflow.now().date()
        self._first_sale_at: datetime | None = None
        self._window_closes_at: datetime | None = None
        self._window_closed = False
        self._proposal: ReorderProposal | None = None
        self._decision_due_at: datetime | None = None
        self._decision: ReorderDecisionInput | None = None
        self._reorder_order_id: int | None = None

    @workflow.run
    async def run(self, inp: StyleLifecycleInput) -> LifecycleResult:
        self._id = inp.lifecycle_id
        settings = inp.settings
        try:
            await workflow.wait_condition(
                lambda: self._first_sale_at is not None,
                timeout=timedelta(days=settings.sales_wait_days),
            )
        except TimeoutError:
            return await self._stop(f"no sales reported within {settings.sales_wait_days:g} days")
        assert self._first_sale_at is not None
        window = timedelta(days=settings.observation_days)
        self._window_closes_at = self._first_sale_at + window
        await self._set_status(LifecycleStatus.OBSERVING)
        await workflow.sleep(self._window_closes_at - workflow.now())
        self._window_closed = True
        # A sales report mid-flight is stored before the proposal reads the sales.
        await workflow.wait_condition(workflow.all_handlers_finished)

        # The deadline is known before the proposal activity marks the row
        # awaiting_decision, so a reader who sees that status also sees the deadline.
        decision_due_at = workflow.now() + timedelta(hours=settings.decision_hours)
        self._decision_due_at = decision_due_at
        self._proposal = await run_db_step(
            LifecycleActivities.propose_reorder,
            ProposeReorderInput(
                lifecycle_id=self._id, observed_days=settings.observation_days, settings=settings
            ),
        )
        self._status = LifecycleStatus.AWAITING_DECISION
        try:
            await workflow.wait_condition(
                lambda: self._decision is not None,
                # At least a second: a zero timeout would mean "no timeout".
                timeout=max(decision_due_at - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            return await self._stop(
                f"no decision on the proposed reorder within {settings.decision_hours:g} hours"
            )
        decision = self._decision
        assert decision is not None
        if decision.decision == ReorderDecision.DECLINE:
            return await self._stop(f"the reorder was declined by {decision.actor}", declined=True)

        quantity = self._quantity_of(decision)
        created = await run_db_step(
            LifecycleActivities.create_reorder,
            CreateReorderInput(
                lifecycle_id=self._id,
                quantity=quantity,
                due_date=decision.due_date,
                actor=decision.actor,
            ),
        )
        self._reorder_order_id = created.production_order_id
        self._status = LifecycleStatus.REORDERED
        await workflow.execute_child_workflow(
            ProductionOrderWorkflow.run,
            ProductionOrderInput(production_order_id=created.production_order_id),
            id=production_order_workflow_id(created.production_order_id),
        )
        return LifecycleResult(
            lifecycle_id=self._id,
            status=self._status,
            reorder_production_order_id=self._reorder_order_id,
            reason=f"reordered {quantity} pieces",
        )

    def _quantity_of(self, decision: ReorderDecisionInput) -> int:
        if decision.decision == ReorderDecision.CHANGE and decision.quantity is not None:
            return decision.quantity
        assert self._proposal is not None
        return self._proposal.quantity

    async def _set_status(self, status: LifecycleStatus) -> None:
        # The workflow's own view first (queries see it at once), then the database's.
        self._status = status
        await run_db_step(
            LifecycleActivities.set_lifecycle_status,
            SetLifecycleStatusInput(
                lifecycle_id=self._id, status=status, window_closes_at=self._window_closes_at
            ),
        )

    async def _stop(self, reason: str, declined: bool = False) -> LifecycleResult:
        await run_db_step(
            LifecycleActivities.stop_lifecycle,
            StopLifecycleInput(lifecycle_id=self._id, reason=reason, declined=declined),
        )
        self._status = LifecycleStatus.STOPPED
        await workflow.wait_condition(workflow.all_handlers_finished)
        return LifecycleResult(
            lifecycle_id=self._id,
            status=self._status,
            reorder_production_order_id=None,
            reason=reason,
        )

    @workflow.update
    async def report_sales(self, inp: SalesReportInput) -> SalesReportResult:
        """A day's units sold by size, stored by an activity; the first opens the window."""
        result = await run_db_step(
            LifecycleActivities.record_sales, inp.model_copy(update={"lifecycle_id": self._id})
        )
        if self._first_sale_at is None:
            self._first_sale_at = workflow.now()
        return result.model_copy(
            update={"status": self._status, "window_closes_at": self._window_closes_at}
        )

    @report_sales.validator
    def _validate_sales(self, inp: SalesReportInput) -> None:
        if self._window_closed or self._status not in SALES_LIFECYCLE_STATUSES:
            raise ApplicationError(
                f"the observation window closed at {self._window_closes_at}; "
                "sales no longer change the proposal",
                type="Conflict",
            )
        today = workflow.now().date()
        if inp.day > today:
            raise ApplicationError(f"day {inp.day} is in the future", type="InvalidInput")
        if inp.day < self._started_on:
            raise ApplicationError(
                f"day {inp.day} is before the test batch was picked ({self._started_on})",
                type="InvalidInput",
            )
        sizes = [s.size for s in inp.sizes]
        if len(set(sizes)) != len(sizes):
            raise ApplicationError("sizes: each size once per report", type="InvalidInput")

    @workflow.update
    def decide(self, inp: ReorderDecisionInput) -> ReorderDecisionResult:
        """The buyer team's answer to the proposal: accept, change the quantity, decline."""
        self._decision = inp
        quantity = 0 if inp.decision == ReorderDecision.DECLINE else self._quantity_of(inp)
        return ReorderDecisionResult(
            lifecycle_id=self._id, decision=inp.decision, quantity=quantity
        )

    @decide.validator
    def _validate_decision(self, inp: ReorderDecisionInput) -> None:
        if self._status != LifecycleStatus.AWAITING_DECISION or self._decision is not None:
            raise ApplicationError(
                f"lifecycle {self._id} is {self._status.value}; there is no proposal to decide",
                type="Conflict",
            )
        assert self._proposal is not None
        if inp.decision == ReorderDecision.CHANGE and (inp.quantity is None or inp.quantity < 1):
            raise ApplicationError(
                "quantity: changing the proposal needs the pieces to make (at least 1)",
                type="InvalidInput",
            )
        if inp.decision == ReorderDecision.ACCEPT and self._proposal.quantity == 0:
            raise ApplicationError(
                f"nothing was proposed ({self._proposal.reason}); change the quantity or decline",
                type="InvalidInput",
            )
        earliest = workflow.now().date() + timedelta(days=MIN_PRODUCTION_DAYS)
        if inp.due_date is not None and inp.due_date < earliest:
            raise ApplicationError(
                f"due_date {inp.due_date} is before the earliest feasible date {earliest}",
                type="InvalidInput",
            )

    @workflow.query
    def progress(self) -> LifecycleProgress:
        return LifecycleProgress(
            lifecycle_id=self._id,
            status=self._status,
            window_closes_at=self._window_closes_at,
            decision_due_at=self._decision_due_at,
            proposal=self._proposal,
            reorder_production_order_id=self._reorder_order_id,
        )
