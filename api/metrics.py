"""Prometheus metrics at ``/metrics``: the API's own requests, and the platform's state read
from the database at scrape time (work orders by status, lease expiries, factories down and
work centres on hold, scenario solves), so every API process reports the same figures
whichever process changed them.

Each app has its own registry: tests build many apps in one process.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlmodel import Session, col, func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from models.tables import Event, Factory, ProductionOrder, Scenario, WorkCentre, WorkOrder

# Latency buckets from a cached token check (about a millisecond) to a long-poll (30 s).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class RequestMetrics:
    """Counts and times every HTTP request by method, route template and status. A path
    that matched no route is counted as ``unmatched``: a scanner's made-up paths must not
    become one time series each."""

    def __init__(self, app: ASGIApp, registry: CollectorRegistry) -> None:
        self.app = app
        self.requests = Counter(
            "c2b_http_requests",
            "HTTP requests answered, by method, route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "c2b_http_request_duration_seconds",
            "Time from receiving a request to the end of its answer, by method and route.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        code = 500  # what the server answers if the app raises before it answers

        async def watched(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or "unmatched"
            method = scope["method"]
            self.requests.labels(method, template, str(code)).inc()
            self.latency.labels(method, template).observe(time.perf_counter() - started)


class PlatformCollector(Collector):
    """The platform's state, read from the database when Prometheus scrapes."""

    def __init__(self, session_factory: Callable[[], Session]) -> None:
        self.session_factory = session_factory

    def collect(self) -> Iterator[Metric]:
        with self.session_factory() as session:
            yield _by_status(
                session,
                "c2b_work_orders",
                "Work orders by status.",
                WorkOrder.status,
            )
            yield _by_status(
                session,
                "c2b_production_orders",
                "Production orders by status.",
                ProductionOrder.status,
            )
            expiries = session.exec(
                select(func.count()).select_from(Event).where(Event.kind == "lease_expired")
            ).one()
            counter = CounterMetricFamily(
                "c2b_lease_expiries", "Work-order leases that ran out (each expiry once)."
            )
            counter.add_metric([], expiries)
            yield counter
            yield from _out_of_use(session)
            yield from _solver_metrics(session)


def _out_of_use(session: Session) -> Iterator[Metric]:
    """Factories marked down and work centres on a quality hold (a defect spike holds one
    by itself: worth an alert)."""
    down = GaugeMetricFamily("c2b_factories_down", "Factories a planner marked down.")
    down.add_metric(
        [],
        session.exec(select(func.count()).select_from(Factory).where(col(Factory.is_down))).one(),
    )
    yield down
    held = GaugeMetricFamily(
        "c2b_work_centres_on_hold", "Work centres on a quality hold (a defect spike or a planner)."
    )
    held.add_metric(
        [],
        session.exec(
            select(func.count()).select_from(WorkCentre).where(col(WorkCentre.on_hold))
        ).one(),
    )
    yield held


def _by_status(session: Session, name: str, doc: str, column: Any) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc, labels=["status"])
    rows = session.exec(select(column, func.count()).group_by(column)).all()
    for status, count in sorted(rows, key=lambda r: str(r[0])):
        gauge.add_metric([getattr(status, "value", str(status))], count)
    return gauge


def _solver_metrics(session: Session) -> Iterator[Metric]:
    """Scenario solves: how many by status, their total solver time, and the last
    finished one's time and gap (the solver process writes each solve's progress)."""
    by_status = GaugeMetricFamily(
        "c2b_scenarios", "Planners' scenarios by status.", labels=["status"]
    )
    rows = session.exec(select(Scenario.status, func.count()).group_by(Scenario.status)).all()
    for status, count in sorted(rows, key=lambda r: str(r[0])):
        by_status.add_metric([getattr(status, "value", str(status))], count)
    yield by_status
    solved = session.exec(
        select(Scenario.progress)
        .where(col(Scenario.progress).is_not(None))
        .order_by(col(Scenario.id).desc())
        .limit(1000)
    ).all()
    seconds = CounterMetricFamily(
        "c2b_solver_seconds", "Solver time spent on the last 1,000 scenarios."
    )
    seconds.add_metric([], sum(float((p or {}).get("elapsed_s") or 0.0) for p in solved))
    yield seconds
    last = solved[0] if solved else None
    last_seconds = GaugeMetricFamily(
        "c2b_solver_last_solve_seconds", "Solver time of the latest scenario."
    )
    last_gap = GaugeMetricFamily(
        "c2b_solver_last_gap", "Relative gap between objective and bound of the latest scenario."
    )
    if last is not None:
        last_seconds.add_metric([], float(last.get("elapsed_s") or 0.0))
        if last.get("gap") is not None:
            last_gap.add_metric([], float(last["gap"]))
    yield last_seconds
    yield last_gap


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The Prometheus text format (a thread: the platform collector reads the database)."""
    registry: CollectorRegistry = request.app.state.metrics
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
