"""The cancellation saga on the time-skipping server, with the real activities and a real
database: cancelled while it waits for fabric, and cancelled in production."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlmodel import Session, select
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from models.schemas import (
    CancelOrderInput,
    ProductionOrderInput,
    ProductionOrderStatus,
    PurchaseOrderStatus,
    WorkOrderStatus,
)
from models.tables import FabricPurchaseOrder, PlanAssignment, ProductionOrder, WorkOrder
from tests.activities.test_production_activities import tee_fabric
from tests.factories import make_order
from tests.workflows.test_demand_batch_workflow import replays
from tests.workflows.test_design_gate import events, status_of, until_in_production
from workflows.production_order import ProductionOrderWorkflow

CANCEL = CancelOrderInput(reason="the customer withdrew", actor="team-nova")


async def start_order(
    env: WorkflowEnvironment, worker_queue: str, session: Session, team_id: int
) -> tuple[ProductionOrder, WorkflowHandle]:  # type: ignore[type-arg]
    order = make_order(session, team_id)
    handle = await env.client.start_workflow(
        ProductionOrderWorkflow.run,
        ProductionOrderInput(production_order_id=order.id or 0),
        id=f"production-order-{order.id}-{uuid.uuid4()}",
        task_queue=worker_queue,
    )
    return order, handle


@pytest.fixture
async def order_workflow(
    time_skipping_env: WorkflowEnvironment, worker_queue: str, session: Session, team_id: int
) -> AsyncIterator[tuple[ProductionOrder, WorkflowHandle]]:  # type: ignore[type-arg]
    order, handle = await start_order(time_skipping_env, worker_queue, session, team_id)
    yield order, handle
    try:
        await handle.terminate("test over")
    except Exception:  # noqa: BLE001 - it finished
        pass


async def test_an_order_waiting_for_fabric_is_cancelled_with_its_purchase(
    time_skipping_env: WorkflowEnvironment,
    session: Session,
    team_id: int,
    worker_queue: str,
) -> None:
    fabric = tee_fabric(session)
    fabric.metres_on_hand = 1.0
    session.commit()
    order, handle = await start_order(time_skipping_env, worker_queue, session, team_id)
    for _ in range(100):
        if await status_of(handle) == ProductionOrderStatus.AWAITING_FABRIC:
            break
        await time_skipping_env.sleep(1)
    answer = await handle.execute_update(ProductionOrderWorkflow.cancel, CANCEL)
    assert answer.accepted
    result = await handle.result()
    assert result.status == ProductionOrderStatus.CANCELLED
    session.expire_all()
    po = session.exec(select(FabricPurchaseOrder)).one()
    assert po.status == PurchaseOrderStatus.CANCELLED
    assert tee_fabric(session).metres_on_hand == 1.0
    assert "cancelled" in events(session, order)


async def test_an_order_in_production_withdraws_its_work_and_frees_its_plan(
    time_skipping_env: WorkflowEnvironment,
    order_workflow: tuple[ProductionOrder, WorkflowHandle],  # type: ignore[type-arg]
    session: Session,
) -> None:
    order, handle = order_workflow
    before = tee_fabric(session).metres_on_hand
    await until_in_production(time_skipping_env, handle)
    assert tee_fabric(session).metres_on_hand < before  # reserved

    await handle.execute_update(ProductionOrderWorkflow.cancel, CANCEL)
    # Twice: no harm. Accepted while the order compensates; refused once it is cancelled.
    with contextlib.suppress(RPCError, WorkflowUpdateFailedError):
        await handle.execute_update(ProductionOrderWorkflow.cancel, CANCEL)
    result = await handle.result()
    assert result.status == ProductionOrderStatus.CANCELLED
    session.expire_all()
    statuses = {w.status for w in session.exec(select(WorkOrder))}
    assert statuses == {WorkOrderStatus.WITHDRAWN}
    assert session.exec(select(PlanAssignment)).all() == []
    assert tee_fabric(session).metres_on_hand == pytest.approx(before)
    history = await handle.fetch_history()
    await replays(history, "production_order_cancelled")
