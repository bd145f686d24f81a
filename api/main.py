"""The FastAPI application. The composition root builds a ``Runtime`` (session factory,
Temporal connector, config) and passes it to ``create_app``; the lifespan connects the
Temporal client once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline
from prometheus_client import CollectorRegistry

from api import metrics
from api.deps import Runtime
from api.errors import database_busy_response, domain_error_response, with_refusals_documented
from api.limits import BodySizeLimit
from api.metrics import PlatformCollector, RequestMetrics
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
    app.openapi = with_refusals_documented(app)  # type: ignore[method-assign]
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
    app.include_router(planning.centres)
    registry = CollectorRegistry()
    registry.register(PlatformCollector(runtime.session_factory))
    app.state.metrics = registry
    app.include_router(metrics.router)
    # The last one added is the outermost. CORS stays closed (no Access-Control-Allow-
    # Origin at all) unless origins are configured; an oversized body is refused before
    # anything reads it; every answer, refusals too, is counted and timed.
    if runtime.config.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(runtime.config.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(BodySizeLimit, max_bytes=runtime.config.max_body_bytes)
    app.add_middleware(RequestMetrics, registry=registry)
    return app
