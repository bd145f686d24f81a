"""One what-if scenario: solve it on the solver's own task queue, then wait for a planner
to apply it (or cancel it) until it expires.

The solve is a regular activity on another task queue (``c2b solver``), so a long solve
never takes a slot or a core from orchestration; it heartbeats, so a dead solver is
noticed in seconds, not at the end of its time limit. Apply is an Update: the planner gets
the verdict (409 when the live plan moved) at once, and the production orders whose
released work moves are told by signals from here, durably.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

from workflows.steps import run_db_step

with workflow.unsafe.imports_passed_through():
    from activities.scenarios import ScenarioActivities, SolverActivities
    from models.scenarios import (
        STOPPED,
        ApplyInput,
        ApplyResult,
        FinishScenarioInput,
        PlanChanged,
        ScenarioInput,
        ScenarioStatus,
    )

# Building the problem, the greedy baseline and storing the plan, on top of the time limit.
SOLVE_OVERHEAD = timedelta(minutes=2)
SOLVE_HEARTBEAT = timedelta(seconds=20)
SOLVE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=2), maximum_attempts=2)
# An apply that comes while the solve is ending waits this long for it (see ``apply``).
APPLY_WAITS_FOR_SOLVE = timedelta(seconds=30)
APPLY_WAITS_PATCH = "apply-waits-for-the-solve-to-end"


@workflow.defn
class ScenarioWorkflow:
    def __init__(self) -> None:
        self._scenario_id = 0
        self._status = ScenarioStatus.QUEUED
        self._cancel_requested = False
        self._solve: asyncio.Task[str] | None = None
        self._applied: ApplyResult | None = None

    @workflow.run
    async def run(self, inp: ScenarioInput) -> ScenarioStatus:
        self._scenario_id = inp.scenario_id
        self._status = ScenarioStatus.SOLVING
        self._solve = asyncio.ensure_future(
            workflow.execute_activity_method(
                SolverActivities.solve_scenario,
                inp.scenario_id,
                task_queue=inp.solver_task_queue,
                start_to_close_timeout=timedelta(seconds=inp.time_limit_s) + SOLVE_OVERHEAD,
                heartbeat_timeout=SOLVE_HEARTBEAT,
                retry_policy=SOLVE_RETRY,
                # A cancelled solve still stores its best plan before it ends.
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
        )
        try:
            await self._solve
        except ActivityError as err:
            if not isinstance(err.cause, CancelledError):
                return await self._end(ScenarioStatus.FAILED, _message(err))
            # Stopped by a planner: the solve kept its best plan, if it had begun.
            if await self._end(ScenarioStatus.CANCELLED, STOPPED) != ScenarioStatus.DONE:
                return self._status
        self._status = ScenarioStatus.DONE
        try:
            await workflow.wait_condition(
                lambda: self._applied is not None or self._cancel_requested,
                timeout=timedelta(hours=inp.keep_hours),
            )
        except TimeoutError:
            return await self._end(ScenarioStatus.EXPIRED, "not applied in time")
        if self._applied is None:
            return await self._end(ScenarioStatus.CANCELLED, "cancelled by a planner")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    async def _end(self, status: ScenarioStatus, why: str) -> ScenarioStatus:
        """Record the end in the database; the status it has there (a plan stored by a
        stopped solve stays DONE)."""
        self._status = await run_db_step(
            ScenarioActivities.finish_scenario,
            FinishScenarioInput(scenario_id=self._scenario_id, status=status, error=why),
        )
        if self._status != ScenarioStatus.DONE:
            await workflow.wait_condition(workflow.all_handlers_finished)
        return self._status

    @workflow.update
    def cancel(self) -> ScenarioStatus:
        """While solving: stop the search and keep the best plan so far. Once solved: drop
        the scenario. A second cancel changes nothing."""
        if self._status == ScenarioStatus.SOLVING and self._solve is not None:
            self._solve.cancel()
        else:
            self._cancel_requested = True
        return self._status

    @cancel.validator
    def _validate_cancel(self) -> None:
        if self._status not in (ScenarioStatus.SOLVING, ScenarioStatus.DONE, ScenarioStatus.QUEUED):
            raise ApplicationError(
                f"scenario {self._scenario_id} is {self._status.value}", type="Conflict"
            )
        if self._applied is not None:
            raise ApplicationError(
                f"scenario {self._scenario_id} is applied already", type="Conflict"
            )

    @workflow.update
    async def apply(self, inp: ApplyInput) -> ApplyResult:
        """Make the scenario's plan live (``ScenarioActivities.apply_scenario``), then tell
        each production order whose released work moves.

        The solve stores its plan (the scenario reads "done" in the database, where the API
        checks it) a moment before this workflow hears that the solve ended: an apply in
        that moment waits for it, rather than being refused as "solving"."""
        if self._status == ScenarioStatus.SOLVING and workflow.patched(APPLY_WAITS_PATCH):
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._status != ScenarioStatus.SOLVING, timeout=APPLY_WAITS_FOR_SOLVE
                )
            ended: ScenarioStatus = self._status  # changed by the run meanwhile
            if ended != ScenarioStatus.DONE or self._cancel_requested:
                raise ApplicationError(_not_finished(self._scenario_id, ended), type="Conflict")
        result = await run_db_step(ScenarioActivities.apply_scenario, inp)
        notified = []
        for workflow_id, work_order_ids in result.changes:
            handle = workflow.get_external_workflow_handle(workflow_id)
            try:
                await handle.signal(
                    "plan_changed",
                    PlanChanged(plan_version=result.plan_version, work_order_ids=work_order_ids),
                )
                notified.append(int(workflow_id.rsplit("-", 1)[1]))
            except FailureError:
                continue  # the order has finished meanwhile
        self._status = ScenarioStatus.APPLIED
        self._applied = result.model_copy(update={"orders_notified": notified})
        return self._applied

    @apply.validator
    def _validate_apply(self, inp: ApplyInput) -> None:
        if self._applied is not None:
            return  # a retry: answered with the same result
        ready = (ScenarioStatus.DONE, ScenarioStatus.SOLVING)  # solving: see ``apply``
        if self._status not in ready or self._cancel_requested:
            raise ApplicationError(_not_finished(self._scenario_id, self._status), type="Conflict")

    @workflow.query
    def status(self) -> ScenarioStatus:
        return self._status


def _not_finished(scenario_id: int, status: ScenarioStatus) -> str:
    return f"scenario {scenario_id} is {status.value}; only a finished scenario can be applied"


def _message(err: ActivityError) -> str:
    cause = err.cause
    return str(cause.message if isinstance(cause, ApplicationError) else cause or err)
