"""Long-polling factories are woken by released work, and waiting is cheap."""

from __future__ import annotations

import asyncio

from sqlmodel import Session

from activities.production import ProductionActivities
from api.notifier import PollingNotifier, PostgresNotifier
from models.schemas import ReleaseWorkOrderInput, WorkOrderStatus
from tests.api.conftest import Platform
from tests.factories import make_order, make_work_order


async def test_a_waiting_claim_gets_work_released_while_it_waits(
    platform: Platform, session: Session, team_id: int
) -> None:
    if isinstance(platform.runtime.notifier, PostgresNotifier):
        await asyncio.wait_for(platform.runtime.notifier.listening.wait(), timeout=10)
    wo = make_work_order(session, make_order(session, team_id), status=WorkOrderStatus.PLANNED)
    waiting = asyncio.create_task(
        platform.http.post(
            "/v1/factory/work-orders/claim?wait=30", headers=platform.auth("GZ-KNIT")
        )
    )
    await asyncio.sleep(0.5)
    assert not waiting.done()
    # Released by the worker's activity, as the production workflow does it.
    await asyncio.to_thread(
        ProductionActivities(platform.session_factory).release_work_order,
        ReleaseWorkOrderInput(work_order_id=wo.id or 0),
    )
    claimed = await asyncio.wait_for(waiting, timeout=25)  # long before wait=30 runs out
    assert claimed.status_code == 200 and claimed.json()["id"] == wo.id


async def test_many_waiting_factories_share_one_database_poll(platform: Platform) -> None:
    notifier = platform.runtime.notifier
    if not isinstance(notifier, PollingNotifier):
        return  # PostgreSQL: waiting costs no query at all (LISTEN/NOTIFY)
    before = notifier.queries
    factories = ["GZ-KNIT", "NB-WOVEN", "DH-DENIM"]
    waits = [
        platform.http.post(
            "/v1/factory/work-orders/claim?wait=1", headers=platform.auth(factories[i % 3])
        )
        for i in range(20)
    ]
    answers = await asyncio.gather(*waits)
    assert {a.status_code for a in answers} == {204}
    # 20 requests waiting 1 s each: one shared poll every 0.2 s, not one per request.
    assert notifier.queries - before <= 10
