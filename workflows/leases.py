"""The lease sweeper: a long-running loop that returns lapsed leases to the queue and tells
a production order when one of its work orders lapsed a second time (a disruption).

Deterministic orchestration only; continues as new to keep its history short.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import FailureError

from workflows.production_order import ProductionOrderWorkflow
from workflows.steps import run_db_step

with workflow.unsafe.imports_passed_through():
    from activities.leases import LeaseActivities
    from models.queues import production_order_workflow_id
    from models.schemas import ExpireLeasesInput, LeaseExpired, LeaseSweeperInput

SWEEPER_WORKFLOW_ID = "lease-sweeper"
DISRUPTING_EXPIRIES = 2


@workflow.defn
class LeaseSweeperWorkflow:
    @workflow.run
    async def run(self, inp: LeaseSweeperInput) -> None:
        for _ in range(inp.rounds_before_continue_as_new):
            result = await run_db_step(LeaseActivities.expire_leases, ExpireLeasesInput())
            for lease in result.expired:
                if lease.expiries >= DISRUPTING_EXPIRIES:
                    await self._tell_order(lease.production_order_id, lease)
            await workflow.sleep(timedelta(seconds=inp.interval_seconds))
        workflow.continue_as_new(inp)

    async def _tell_order(self, order_id: int, lease: LeaseExpired) -> None:
        order = workflow.get_external_workflow_handle_for(
            ProductionOrderWorkflow.run, production_order_workflow_id(order_id)
        )
        try:
            await order.signal(ProductionOrderWorkflow.lease_expired, lease)
        except FailureError:
            # The order's workflow is gone (finished or cancelled): nothing left to disrupt.
            workflow.logger.warning("production order %s has no running workflow", order_id)
