"""The worker: one process that runs the workflows and the database activities.

The only module (with ``c2b.wiring``) that puts Client, Worker and activity instances together.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy import Engine
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.demand import DemandActivities
from activities.leases import LeaseActivities
from activities.lifecycle import LifecycleActivities
from activities.production import DefectSpike, ProductionActivities
from activities.scenarios import ScenarioActivities, SolverActivities
from c2b.db import SessionFactory, make_engine, make_session_factory
from c2b.logs import configure_logging
from c2b.settings import Settings
from c2b.temporal_client import connect_temporal, metrics_runtime
from c2b.tracing import temporal_interceptors, tracer_provider
from models.schemas import LeaseSweeperInput
from workflows import search_attributes
from workflows.demand_batch import DemandBatchWorkflow
from workflows.leases import SWEEPER_WORKFLOW_ID, LeaseSweeperWorkflow
from workflows.production_order import ProductionOrderWorkflow
from workflows.scenario import ScenarioWorkflow
from workflows.style_lifecycle import StyleLifecycleWorkflow

WORKFLOWS = [
    DemandBatchWorkflow,
    ProductionOrderWorkflow,
    StyleLifecycleWorkflow,
    LeaseSweeperWorkflow,
    ScenarioWorkflow,
]
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
# How often a solve's heartbeat is sent to the server (build_solver_worker).
SOLVE_HEARTBEAT_SENT_EVERY = timedelta(seconds=1)


def activity_methods(*instances: object) -> list[Callable[..., Any]]:
    """Every ``@activity.defn`` method of the given activity-class instances."""
    return [
        getattr(obj, name)
        for obj in instances
        for name in dir(type(obj))
        if hasattr(getattr(type(obj), name), "__temporal_activity_definition")
    ]


def sandbox_runner() -> SandboxedWorkflowRunner:
    # Our schemas and the libraries they pull in are deterministic and import-safe: pass
    # them through rather than re-import them per workflow run (FIELD-NOTES: 4x faster).
    passthrough: Sequence[str] = ("models", "activities", "pydantic", "sqlmodel", "sqlalchemy")
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(*passthrough)
    )


def workflow_runner(sandboxed: bool) -> WorkflowRunner:
    """The sandbox, or none.

    The sandbox re-imports a workflow's modules for every run and, in temporalio 1.35,
    enters the sandbox again (an ``exec`` of source text) for every payload the worker
    decodes or encodes. On the orchestration benchmark that is about a third of the
    worker's CPU; without it the worker ships about 40 % more orders per second. What the
    sandbox is for, catching a workflow that reads the clock, does I/O or imports
    something unsafe, the tests keep doing: every test worker and replayer runs sandboxed
    (``build_worker``'s default), and the replay tests run over saved histories.
    """
    return sandbox_runner() if sandboxed else UnsandboxedWorkflowRunner()


def build_worker(
    client: Client,
    session_factory: SessionFactory,
    task_queue: str,
    executor: ThreadPoolExecutor,
    production: ProductionActivities | None = None,
    *,
    demand: DemandActivities | None = None,
    sandboxed: bool = True,
    max_cached_workflows: int = 1000,
) -> Worker:
    """The worker of the orchestration queue. ``production`` and ``demand`` replace the
    production and demand activities (a test may slow one down); by default they run on
    ``session_factory``.
    Tests keep the sandbox; ``c2b worker`` follows ``C2B_WORKFLOW_SANDBOX`` (off)."""
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activity_methods(
            demand or DemandActivities(session_factory),
            production or ProductionActivities(session_factory),
            LeaseActivities(session_factory),
            LifecycleActivities(session_factory),
            ScenarioActivities(session_factory),
        ),
        activity_executor=executor,
        max_concurrent_activities=executor._max_workers,
        workflow_runner=workflow_runner(sandboxed),
        max_cached_workflows=max_cached_workflows,
        # After a worker dies, its sticky queue would hold the next task for 10 s.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=2),
        # On shutdown, let running database activities finish rather than cancel them:
        # cancelling a sync activity raises inside its thread, mid-transaction.
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def ensure_lease_sweeper(client: Client, task_queue: str) -> None:
    """Start the one lease sweeper unless it runs already (every worker asks; one wins)."""
    await client.start_workflow(
        LeaseSweeperWorkflow.run,
        LeaseSweeperInput(),
        id=SWEEPER_WORKFLOW_ID,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def ensure_search_attributes(client: Client) -> None:
    """Register the production orders' search attributes on the client's namespace unless
    they are there already (every worker asks). A workflow that set an unregistered one
    would fail its workflow task, so a server that refuses stops the worker here."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        registered = set(listed.custom_attributes)
    except RPCError as err:  # the time-skipping test server can add but not list them
        if err.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        registered = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in search_attributes.ALL
        if key.name not in registered
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )


def cache_bytecode(directory: Path) -> None:
    """Keep compiled bytecode under ``directory``, whatever PYTHONDONTWRITEBYTECODE says.
    The workflow sandbox imports a workflow's modules afresh for every run; without a
    bytecode cache (these machines set PYTHONDONTWRITEBYTECODE=1) each import compiles
    the source again. With it, the orchestration benchmark's 300 orders went from 6.9 to
    8.3 orders/s. The cache stays out of the source tree (``sys.pycache_prefix``)."""
    directory.mkdir(parents=True, exist_ok=True)
    sys.pycache_prefix = str(directory)
    sys.dont_write_bytecode = False


def build_solver_worker(
    client: Client,
    session_factory: SessionFactory,
    task_queue: str,
    solver: SolverActivities | None = None,
) -> Worker:
    """The worker of the solver queue: scenario solves only, one at a time (CP-SAT takes
    both cores of these machines). Its activity is async: the solve runs in a thread and
    the activity heartbeats beside it (FIELD-NOTES: CP-SAT).

    Its heartbeats reach the server every second: a planner's stop comes back to the
    activity as the answer to one. The SDK would otherwise send one every 0.8 x the
    heartbeat timeout (16 s), and a stopped solve ran on for up to that long. ``solver``
    replaces the activity (a test's)."""
    return Worker(
        client,
        task_queue=task_queue,
        activities=[(solver or SolverActivities(session_factory)).solve_scenario],
        max_concurrent_activities=1,
        max_heartbeat_throttle_interval=SOLVE_HEARTBEAT_SENT_EVERY,
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
    )


async def _connect(
    settings: Settings, metrics_address: str, tracing: TracerProvider | None
) -> Client:
    """The workers' client: a server that is not up yet is waited for. With a
    ``metrics_address`` the SDK serves its metrics there for Prometheus; with tracing,
    workflows and activities continue the trace of the request that started them."""
    return await connect_temporal(
        settings.temporal_address,
        settings.temporal_namespace,
        wait_seconds=settings.temporal_connect_wait_s,
        runtime=metrics_runtime(metrics_address) if metrics_address else None,
        interceptors=temporal_interceptors(tracing),
    )


async def _serve(worker: Worker, engine: Engine, tracing: TracerProvider | None) -> None:
    """Run ``worker`` until cancelled (Ctrl-C or SIGTERM), then let go of the database
    and send the last spans."""
    try:
        await worker.run()
    except asyncio.CancelledError:
        pass
    finally:
        engine.dispose()
        if tracing is not None:
            tracing.shutdown()


async def run_solver(settings: Settings) -> None:
    """Run the solver worker until cancelled."""
    configure_logging("c2b-solver", settings.log_format, settings.log_level)
    engine = make_engine(settings.effective_database_url)
    tracing = tracer_provider(settings.tracing, "c2b-solver")
    client = await _connect(settings, settings.solver_metrics_address, tracing)
    sessions = make_session_factory(engine)
    solver = build_solver_worker(client, sessions, settings.solver_task_queue)
    await _serve(solver, engine, tracing)


async def run_worker(settings: Settings) -> None:
    """Run the orchestration worker until cancelled."""
    configure_logging("c2b-worker", settings.log_format, settings.log_level)
    cache_bytecode(settings.data_dir / "pycache")
    engine = make_engine(settings.effective_database_url)
    tracing = tracer_provider(settings.tracing, "c2b-worker")
    client = await _connect(settings, settings.worker_metrics_address, tracing)
    await ensure_search_attributes(client)
    await ensure_lease_sweeper(client, settings.orchestration_task_queue)
    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="activity") as executor:
        sessions = make_session_factory(engine)
        queue = settings.orchestration_task_queue
        spike = DefectSpike(settings.defect_spike_completions, settings.defect_spike_share)
        worker = build_worker(
            client,
            sessions,
            queue,
            executor,
            ProductionActivities(sessions, spike),
            sandboxed=settings.workflow_sandbox,
            max_cached_workflows=settings.max_cached_workflows,
        )
        await _serve(worker, engine, tracing)
