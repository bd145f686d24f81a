"""Builds the API application from the settings (``uvicorn --factory c2b.wiring:build_app``)."""

from __future__ import annotations

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from temporalio.client import Client

from api.deps import ApiConfig, Runtime
from api.limits import AuthFailureLimiter
from api.main import create_app
from api.notifier import notifier_for
from c2b.db import make_engine, make_session_factory
from c2b.settings import Settings, get_settings
from c2b.temporal_client import connect_temporal
from c2b.tracing import temporal_interceptors, tracer_provider
from models.schemas import DesignGateSettings, LifecycleSettings


def build_runtime(settings: Settings, tracing: TracerProvider | None = None) -> Runtime:
    url = settings.effective_database_url
    engine = make_engine(url)
    session_factory = make_session_factory(engine)

    async def connect() -> Client:
        return await connect_temporal(
            settings.temporal_address,
            settings.temporal_namespace,
            interceptors=temporal_interceptors(tracing),
        )

    return Runtime(
        session_factory=session_factory,
        notifier=notifier_for(url, session_factory),
        connect_temporal=connect,
        config=ApiConfig(
            orchestration_task_queue=settings.orchestration_task_queue,
            solver_task_queue=settings.solver_task_queue,
            pick_window_hours=settings.pick_window_hours,
            max_body_bytes=settings.max_body_bytes,
            cors_origins=settings.cors_origin_list,
            lease_minutes=settings.lease_minutes,
            lifecycle=LifecycleSettings(
                observation_days=settings.observation_days,
                decision_hours=settings.decision_hours,
            ),
            design_gate=DesignGateSettings(
                escalate_hours=settings.design_escalate_hours,
                cancel_hours=settings.design_cancel_hours,
            ),
        ),
        auth_failures=AuthFailureLimiter(max_failures=settings.auth_failures_per_minute),
    )


def build_app() -> FastAPI:
    settings = get_settings()
    tracing = tracer_provider(settings.tracing, "c2b-api")
    app = create_app(build_runtime(settings, tracing))
    if tracing is not None:
        # A span per request (not for health checks and scrapes), parent of the Temporal
        # client's spans and through them of the workflow's and its activities'.
        FastAPIInstrumentor.instrument_app(
            app,
            tracer_provider=tracing,
            excluded_urls="health,metrics",
            exclude_spans=["receive", "send"],
        )
    return app
