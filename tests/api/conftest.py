"""The API in-process (ASGI) with a real worker on the real Temporal dev server and a real
database. Faster than the e2e tests and still without fakes of any part."""

from __future__ import annotations

import asyncio
import contextlib
import os
import traceback
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner, Result

import api
import c2b.demand_cli as demand_cli
from activities.demand import DemandActivities
from activities.production import ProductionActivities
from activities.scenarios import SolverActivities
from api.deps import ApiConfig, Runtime
from api.main import create_app
from api.notifier import notifier_for
from c2b.cli import app
from c2b.db import SessionFactory
from c2b.tokens import issue_demo_tokens
from c2b.worker import build_solver_worker, build_worker
from models.schemas import LifecycleSettings


@dataclass
class Platform:
    http: httpx.AsyncClient
    tokens: dict[str, str]
    session_factory: SessionFactory
    env: WorkflowEnvironment
    runtime: Runtime

    def auth(self, principal: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[principal]}"}


@contextlib.asynccontextmanager
async def running_platform(
    env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
    production: ProductionActivities | None = None,
    lifecycle: LifecycleSettings | None = None,
    demand: DemandActivities | None = None,
    solver: SolverActivities | None = None,
) -> AsyncIterator[Platform]:
    """The app in-process with its own worker on its own task queue; ``production``,
    ``demand`` and ``solver`` replace those activities (see ``build_worker``),
    ``lifecycle`` the way test batches are judged (a test cannot wait 14 days)."""
    task_queue = f"test-{uuid.uuid4()}"
    tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)}

    async def connect() -> object:
        return env.client

    runtime = Runtime(
        session_factory=session_factory,
        connect_temporal=connect,  # type: ignore[arg-type]
        config=ApiConfig(
            orchestration_task_queue=task_queue,
            solver_task_queue=f"{task_queue}-solver",
            lifecycle=lifecycle or LifecycleSettings(),
        ),
        notifier=notifier_for(db_url, session_factory),
        temporal=env.client,
    )
    await runtime.notifier.start()  # ASGITransport runs no lifespan
    app = create_app(runtime)
    with ThreadPoolExecutor(max_workers=8) as executor:
        worker = build_worker(
            env.client, session_factory, task_queue, executor, production, demand=demand
        )
        solving = build_solver_worker(env.client, session_factory, f"{task_queue}-solver", solver)
        async with worker, solving:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                yield Platform(http, tokens, session_factory, env, runtime)
    await runtime.notifier.stop()


@pytest.fixture
async def platform(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
) -> AsyncIterator[Platform]:
    async with running_platform(dev_server_env, session_factory, session, db_url) as p:
        yield p


API_CODE = str(Path(api.__file__).parent) + os.sep


@pytest.fixture(autouse=True)
def no_connection_waits_on_the_event_loop(engine: sa.Engine) -> Iterator[None]:
    """Fails a test in which the API took a pooled connection on the event loop's thread.
    Such a checkout blocks every request while the pool is empty, and the requests holding
    the connections may need that very loop to give them back: a deadlock, broken only by
    the pool's timeout (found by bench/claims.py with 120 buyers). Routes read in a worker
    thread (``api.deps.read_and_release``, ``run_in_threadpool``, or a plain ``def``)."""
    found: list[str] = []

    def on_checkout(*_: object) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # a worker thread
        frames = [f for f in traceback.extract_stack() if f.filename.startswith(API_CODE)]
        if frames:
            found.append(
                " <- ".join(
                    f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in reversed(frames)
                )
            )

    sa.event.listen(engine, "checkout", on_checkout)
    try:
        yield
    finally:
        sa.event.remove(engine, "checkout", on_checkout)
    assert not found, "pooled connections taken on the event loop:\n" + "\n".join(
        sorted(set(found))
    )


class OnTheLoop(httpx.BaseTransport):
    """Sends a synchronous client's requests through ``http`` on ``loop``."""

    def __init__(self, http: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> None:
        self.http, self.loop = http, loop

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            forwarded = httpx.Request(
                request.method,
                request.url.copy_with(scheme="http", host="test", port=None),
                headers=request.headers,
                content=request.read(),
            )
            answer = await self.http.send(forwarded)
            await answer.aread()
            return answer

        answer = asyncio.run_coroutine_threadsafe(send(), self.loop).result(timeout=90)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)


@pytest.fixture
async def c2b(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``await c2b("demand", "order", "7", token=...)``: the command's result. The command
    line runs in a thread (it is synchronous, like a user's terminal); its requests go
    through the platform's client on the test's event loop."""
    loop = asyncio.get_running_loop()

    def client(api_url: str | None, token: str) -> httpx.Client:
        return demand_cli.ApiClient(
            base_url="http://test",
            headers={"Authorization": f"Bearer {token}"},
            transport=OnTheLoop(platform.http, loop),
        )

    monkeypatch.setattr(demand_cli, "api_client", client)

    async def run(*args: str, token: str) -> Result:
        env = {"COLUMNS": "200", "C2B_TOKEN": token}
        return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)

    return run
