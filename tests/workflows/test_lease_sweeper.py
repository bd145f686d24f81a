"""The lease sweeper on the time-skipping server with real activities and database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select
from temporalio.client import WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from models.schemas import DisruptionKind, LeaseSweeperInput, ProductionOrderInput, WorkOrderStatus
from models.tables import WorkOrder
from tests.factories import make_order, make_work_order
from tests.workflows.test_demand_batch_workflow import replays
from workflows.leases import LeaseSweeperWorkflow
from workflows.production_order import ProductionOrderWorkflow


async def test_a_second_lapsed_lease_reaches_the_production_order_as_a_disruption(
    time_skipping_env: WorkflowEnvironment, worker_queue: str, session: Session, team_id: int
) -> None:
    client = time_skipping_env.client
    order = make_order(session, team_id)
    order_wf = await client.start_workflow(
        ProductionOrderWorkflow.run,
        ProductionOrderInput(production_order_id=order.id or 0),
        id=f"production-order-{order.id}",
        task_queue=worker_queue,
    )
    # Wait for the first work order to be released to its factory.
    first: WorkOrder | None = None
    for _ in range(200):
        session.expire_all()
        first = session.exec(
            select(WorkOrder).where(
                WorkOrder.production_order_id == order.id,
                WorkOrder.status == WorkOrderStatus.RELEASED,
            )
        ).first()
        if first is not None:
            break
        await asyncio.sleep(0.05)
    assert first is not None
    # Its claimant lets the lease lapse for the second time; another order's claimant too,
    # for an order whose workflow no longer runs.
    lapsed = datetime.now(UTC) - timedelta(minutes=1)
    for wo in (first, make_work_order(session, make_order(session, team_id))):
        wo.status, wo.lease_holder = WorkOrderStatus.CLAIMED, "token-9"
        wo.lease_expires_at, wo.lease_expiries = lapsed, 1
        session.add(wo)
    session.commit()

    sweeper = await client.start_workflow(
        LeaseSweeperWorkflow.run,
        LeaseSweeperInput(interval_seconds=5),
        id=f"lease-sweeper-{uuid.uuid4()}",
        task_queue=worker_queue,
    )
    progress = None
    for _ in range(100):
        progress = await order_wf.query(ProductionOrderWorkflow.progress)
        if progress.disruptions:
            break
        await time_skipping_env.sleep(timedelta(seconds=5))
    assert progress is not None
    assert [(d.kind, d.work_order_id, d.detail) for d in progress.disruptions] == [
        (DisruptionKind.LEASE_EXPIRED_TWICE, first.id, "lease ran out 2 times")
    ]
    # The sweeper carries on past the order it could not tell.
    assert (await sweeper.describe()).status == WorkflowExecutionStatus.RUNNING
    session.expire_all()
    statuses = session.exec(select(WorkOrder.status).order_by(col(WorkOrder.id))).all()
    assert WorkOrderStatus.CLAIMED not in statuses
    await sweeper.terminate("test over")
    await order_wf.terminate("test over")
    history = await sweeper.fetch_history()
    await replays(history, "lease_sweeper")
