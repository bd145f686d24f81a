"""The FastAPI application. The composition root builds a ``Runtime`` (session factory,
Temporal connector, config) and passes it to ``create_app``; the lifespan connects the
Temporal client once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.deps import Runtime
from api.errors import database_busy_response, domain_error_response
from api.routers import (
    analytics,
    buyers,
    fabric,
    factories,
    health,
    orders,
    planner_page,
    planning,
    scenarios,
    styles,
)
from models.errors import DomainError


def create_app(runtime: Runtime) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            runtime.temporal = await runtime.connect_temporal()
        except Exception:
            # Start anyway: /health reports Temporal down and routes reconnect on demand.
            runtime.temporal = None
        await runtime.notifier.start()
        yield
        await runtime.notifier.stop()

    # FastAPIOffline serves the Swagger UI and ReDoc assets itself: /docs works without
    # internet access (factory networks, these machines), where the CDN default is blank.
    app = FastAPIOffline(
        title="C2B made-to-order platform",
        version="0.1.0",
        summary="Customer demand to factory work orders in days.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.add_exception_handler(DomainError, domain_error_response)
    app.add_exception_handler(sa.exc.TimeoutError, database_busy_response)
    routers = (
        health,
        buyers,
        styles,
        factories,
        orders,
        fabric,
        planning,
        scenarios,
        analytics,
        planner_page,
    )
    for module in routers:
        app.include_router(module.router)
    return app
