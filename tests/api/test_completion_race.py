"""A factory may complete a work order before the workflow has heard that its release
activity finished: the release commits, the factory claims at once, and the worker is
slow to report back. The completion must still be accepted."""

from __future__ import annotations

import time

from sqlmodel import Session
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.production import ProductionActivities
from c2b.db import SessionFactory
from models.schemas import ReleaseWorkOrderInput
from tests.api.conftest import running_platform
from tests.api.test_buyer_flow import submit_and_pick


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
        claim = await p.http.post(
            "/v1/factory/work-orders/claim", params={"wait": 30}, headers=factory
        )
        assert claim.status_code == 200, claim.text
        wo = claim.json()
        done = await p.http.post(
            f"/v1/factory/work-orders/{wo['id']}/complete",
            json={"good": [{"size": "M", "quantity": wo["quantity"]}]},
            headers={**factory, "Idempotency-Key": "race-1"},
        )
    assert done.status_code == 200, done.text
    assert done.json()["good_quantity"] == wo["quantity"]
