"""A factory may complete a work order before the workflow has heard that its release
activity finished: the release commits, the factory claims at once, and the worker is
slow to report back. The completion must still be accepted."""

from __future__ import annotations

import time
from typing import Any

import httpx
from sqlmodel import Session, select
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.production import ProductionActivities
from api.routers.factories import API_KEY_PREFIX
from c2b.db import SessionFactory
from models.queues import production_order_workflow_id
from models.schemas import (
    CompleteWorkOrderInput,
    OrderProgress,
    RejectWorkOrderInput,
    ReleaseWorkOrderInput,
    SizeQuantity,
)
from models.tables import Factory, WorkOrder
from tests.api.conftest import Platform, running_platform
from tests.api.test_buyer_flow import submit_and_pick
from workflows.production_order import ProductionOrderWorkflow


class SlowToReportRelease(ProductionActivities):
    @activity.defn(name="release_work_order")
    def release_work_order(self, inp: ReleaseWorkOrderInput) -> None:
        super().release_work_order(inp)  # committed: the factory can claim it now
        time.sleep(3.0)  # ... while the worker is slow to report the activity done


async def test_a_completion_racing_the_release_report_is_accepted(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
) -> None:
    slow = SlowToReportRelease(session_factory)
    async with running_platform(dev_server_env, session_factory, session, db_url, slow) as p:
        await submit_and_pick(p, quantity=100)
        factory = p.auth("GZ-KNIT")
        wo = await claim(p, factory)
        done = await complete_whole(p, wo, {**factory, "Idempotency-Key": "race-1"})
    assert done.status_code == 200, done.text
    assert done.json()["good_quantity"] == wo["quantity"]


async def test_a_completion_the_workflow_never_heard_of_reaches_it_on_the_retry(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
) -> None:
    """Found by the chaos benchmark: the completion's activity commits, then the worker and
    the Temporal server die before the update is in the workflow's history. The factory's
    retry, with the same Idempotency-Key, finds the work order completed in the database;
    the answer must still reach the workflow, or the order waits forever."""
    async with running_platform(dev_server_env, session_factory, session, db_url) as p:
        batch_id, wo, held = await claimed_and_lost(p, session_factory, key="lost-1")
        factory = p.auth("GZ-KNIT")
        retry = await complete_whole(p, wo, {**factory, "Idempotency-Key": "lost-1"})
        assert retry.status_code == 200, retry.text
        assert wo["id"] in await completed_in_workflow(p, batch_id)
        # A different key is still a conflict.
        other = await complete_whole(p, wo, {**factory, "Idempotency-Key": "another"})
        assert other.status_code == 409, other.text


async def test_a_completion_sent_without_a_key_and_lost_still_reaches_the_workflow(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
) -> None:
    """The same loss for a factory that sends no Idempotency-Key: its retry is refused as
    a second completion (409), but the order must not wait forever for the first. The
    API stores a key of its own with every completion sent without one, and on a refused
    repeat tells the workflow again under that key."""
    async with running_platform(dev_server_env, session_factory, session, db_url) as p:
        # With the key the API gives a keyless completion.
        batch_id, wo, held = await claimed_and_lost(p, session_factory, f"{API_KEY_PREFIX}lost")
        retry = await complete_whole(p, wo, p.auth("GZ-KNIT"))
        assert retry.status_code == 409, retry.text
        assert "already completed" in retry.json()["detail"]
        assert wo["id"] in await completed_in_workflow(p, batch_id)

        # And a keyless completion that goes through is stored under a key of the API's.
        with session_factory() as s:
            following = s.exec(
                select(WorkOrder).where(WorkOrder.production_order_id == held.production_order_id)
            ).all()
            nxt_factory = next(w for w in following if w.seq == 2).factory_id
            code = s.get(Factory, nxt_factory).code  # type: ignore[union-attr]
        at_next = p.auth(code)
        nxt = await claim(p, at_next)
        done = await complete_whole(p, nxt, at_next)
        assert done.status_code == 200, done.text
        with session_factory() as s:
            stored = s.get(WorkOrder, nxt["id"])
            assert stored is not None and stored.completion_key is not None
            assert stored.completion_key.startswith(API_KEY_PREFIX)


async def test_a_rejection_sent_without_a_key_and_lost_still_reaches_the_workflow(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
) -> None:
    """The same for a rejection: the retry is refused, and the workflow still hears of
    the first, as a disruption to re-plan."""
    async with running_platform(dev_server_env, session_factory, session, db_url) as p:
        batch_id, wo, _ = await claimed_and_lost(
            p, session_factory, f"{API_KEY_PREFIX}lost", rejected=True
        )
        retry = await p.http.post(
            f"/v1/factory/work-orders/{wo['id']}/reject",
            json={"reason": "the knitting line is down"},
            headers=p.auth("GZ-KNIT"),
        )
        assert retry.status_code == 409, retry.text
        assert "already rejected" in retry.json()["detail"]
        disrupted = [d.work_order_id for d in (await progress_of(p, batch_id)).disruptions]
        assert wo["id"] in disrupted


async def claimed_and_lost(
    p: Platform, session_factory: SessionFactory, key: str, *, rejected: bool = False
) -> tuple[int, dict[str, Any], WorkOrder]:
    """A batch picked, its first work order claimed at GZ-KNIT and completed (or
    ``rejected``) in the database under ``key`` as a lost update would leave it: the
    workflow unaware."""
    batch_id = await submit_and_pick(p, quantity=100)
    wo = await claim(p, p.auth("GZ-KNIT"))
    with session_factory() as s:
        held = s.get(WorkOrder, wo["id"])
        assert held is not None and held.lease_holder is not None
    activities = ProductionActivities(session_factory)
    if rejected:
        activities.record_rejection(
            RejectWorkOrderInput(
                work_order_id=wo["id"],
                factory_id=held.factory_id,
                lease_holder=held.lease_holder,
                reason="the knitting line is down",
                idempotency_key=key,
            )
        )
    else:
        activities.record_completion(
            CompleteWorkOrderInput(
                work_order_id=wo["id"],
                factory_id=held.factory_id,
                lease_holder=held.lease_holder,
                good=[SizeQuantity(size="M", quantity=wo["quantity"])],
                idempotency_key=key,
            )
        )
    return batch_id, wo, held


async def claim(p: Platform, factory: dict[str, str]) -> dict[str, Any]:
    """The factory's next work order, claimed (waiting for it up to 30 s)."""
    r = await p.http.post("/v1/factory/work-orders/claim", params={"wait": 30}, headers=factory)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def complete_whole(
    p: Platform, wo: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """``wo`` completed with every piece good (all size M, as the batches here are)."""
    return await p.http.post(
        f"/v1/factory/work-orders/{wo['id']}/complete",
        json={"good": [{"size": "M", "quantity": wo["quantity"]}]},
        headers=headers,
    )


async def progress_of(p: Platform, batch_id: int) -> OrderProgress:
    """What the workflow of the batch's production order knows."""
    order_id = (
        await p.http.get(f"/v1/demand-batches/{batch_id}", headers=p.auth("team-nova"))
    ).json()["production_orders"][0]["id"]
    handle = p.env.client.get_workflow_handle(production_order_workflow_id(order_id))
    return await handle.query(ProductionOrderWorkflow.progress)


async def completed_in_workflow(p: Platform, batch_id: int) -> list[int]:
    """The work orders the batch's production order's workflow counts as completed."""
    return (await progress_of(p, batch_id)).completed_work_order_ids
