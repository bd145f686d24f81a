"""Requests in flight hold no database connection while they wait on the event loop: with
hundreds of long-polling factories, held connections would exhaust the pool."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.deps import ApiConfig, Runtime
from api.main import create_app
from api.notifier import notifier_for
from c2b.db import SessionFactory, make_session_factory
from c2b.tokens import issue_demo_tokens
from tests.api.conftest import running_platform
from tests.factories import make_order, make_work_order, need_by
from tests.held import HELD_FOR, HeldAggregation


async def no_temporal() -> Client:
    raise RuntimeError("claims do not need Temporal")


@asynccontextmanager
async def api_on_a_small_pool(
    db_url: str, pool_size: int, pool_timeout: float
) -> AsyncIterator[tuple[httpx.AsyncClient, sa.Engine]]:
    """The API, without Temporal, on a deliberately small pool of connections."""
    engine = sa.create_engine(
        db_url, pool_size=pool_size, max_overflow=0, pool_timeout=pool_timeout
    )
    sessions = make_session_factory(engine)
    runtime = Runtime(
        session_factory=sessions,
        connect_temporal=no_temporal,
        config=ApiConfig(orchestration_task_queue="unused"),
        notifier=notifier_for(db_url, sessions),
    )
    await runtime.notifier.start()
    try:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http, engine
    finally:
        await runtime.notifier.stop()
        engine.dispose()


@pytest.mark.parametrize(
    ("method", "path", "work_orders"),
    [("POST", "/v1/factory/work-orders/claim", 60), ("GET", "/v1/factory/work-orders", 1)],
    ids=["claims", "reads"],
)
async def test_more_requests_at_once_than_threads_share_a_pool_of_two(
    db_url: str, session: Session, team_id: int, method: str, path: str, work_orders: int
) -> None:
    """60 requests at once, more than FastAPI has threads (40), on a pool of two
    connections. A request that kept its connection after its database work until the
    session dependency's teardown, and a teardown that needed a thread to give it back,
    would starve the threads waiting for one: none would come back until the pool's
    timeout, and those requests would fail."""
    tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)}
    order = make_order(session, team_id)
    for attempt in range(1, work_orders + 1):
        make_work_order(session, order, attempt=attempt)
    factory = {"Authorization": f"Bearer {tokens['GZ-KNIT']}"}
    async with api_on_a_small_pool(db_url, pool_size=2, pool_timeout=3) as (http, _):
        answers = await asyncio.gather(
            *(http.request(method, path, headers=factory) for _ in range(60))
        )
    assert [a.status_code for a in answers] == [200] * 60, {a.status_code for a in answers}
    if method == "POST":  # every claim got a work order of its own
        assert len({a.json()["id"] for a in answers}) == 60


async def test_an_exhausted_pool_is_a_503_to_retry_not_a_500(db_url: str, session: Session) -> None:
    tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)}
    factory = {"Authorization": f"Bearer {tokens['GZ-KNIT']}"}
    async with api_on_a_small_pool(db_url, pool_size=1, pool_timeout=0.2) as (http, engine):
        held = engine.connect()  # someone else has the only connection
        try:
            answer = await http.get("/v1/factory/work-orders", headers=factory)
        finally:
            held.close()
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "busy" in answer.json()["detail"]


async def test_buyer_requests_waiting_on_the_batch_workflow_hold_no_connection(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
    engine: sa.Engine,
) -> None:
    """A batch's status, its aggregate and a pick ask its workflow, which can take seconds
    on a loaded machine (here: its aggregation step is held open). Meanwhile none of the
    three may hold a pooled connection: 30 buyers doing so once exhausted the pool under
    200 polling factories (bench/claims.py), and every claim got 503 'database busy'."""
    demand = HeldAggregation(session_factory)
    async with running_platform(
        dev_server_env, session_factory, session, db_url, demand=demand
    ) as platform:
        buyer = platform.auth("team-nova")
        line = {"customer_ref": "C-1", "style": "TS-CREW", "colour": "white", "size": "M"}
        line |= {
            "quantity": 120,
            "need_by": need_by().isoformat(),
            "channel": "web",
            "region": "EU",
        }
        submitted = await platform.http.post(
            "/v1/demand-batches", json={"lines": [line]}, headers=buyer
        )
        assert submitted.status_code == 201, submitted.text
        batch = f"/v1/demand-batches/{submitted.json()['batch_id']}"
        assert await asyncio.to_thread(demand.committed.wait, HELD_FOR)
        pick = {"picks": [{"style": "TS-CREW", "colour": "white"}]}
        waiting = [
            asyncio.create_task(platform.http.get(batch, headers=buyer)),
            asyncio.create_task(platform.http.get(f"{batch}/aggregate", headers=buyer)),
            asyncio.create_task(platform.http.post(f"{batch}/picks", json=pick, headers=buyer)),
        ]
        held = []
        for _ in range(10):
            await asyncio.sleep(0.1)
            held.append(engine.pool.checkedout())  # type: ignore[attr-defined]
        still_waiting = [not task.done() for task in waiting]
        demand.release.set()
        answers = await asyncio.gather(*waiting)
    assert still_waiting == [True, True, True]
    assert min(held) == 0, held
    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
