"""Benchmark: production orders through their whole flow on the embedded stack, against
the Temporal dev server's own limit measured in the same run.

Everything is real and out of process: ``c2b dev`` (Temporal dev server, worker, API
under uvicorn) on a fresh database. Two phases:

1. **Baseline.** ``--trivial`` workflows that each run one activity that does nothing
   (bench/trivial.py), on a worker inside this process, on the same server:
   ``trivial_wf_per_s``. Nothing an order does can cost less than one of these.
2. **Orders.** Buyer clients (``--concurrency`` at a time) each submit a one-line batch,
   wait for its pick window, and pick it with the window closed: one production order
   per batch (``--orders-per-batch`` N: N lines of other style-colours, all picked, one
   order each), through design gate, fabric, placement, work orders, execution and
   shipping. Simulated factories complete each work order the moment they claim it,
   all pieces good. ``orders_per_s`` counts from the first submission to the last order
   shipped; ``ratio`` = orders_per_s / trivial_wf_per_s.
   ``pick_to_pollable`` is, per order, from sending its pick to its first work order
   being released to a factory (``released_at`` in the database).

Fabric stock is topped up first, so no order waits for a purchase. Afterwards the
database is checked: ``duplicates`` counts work orders beyond one per operation, a work
order's event recorded twice, reservations beyond one per order and fabric, and
shipments beyond one per customer line. It must be 0.

    c2b bench orchestration [--orders 1000] [--concurrency 6] [--orders-per-batch 1]
                            [--database-url URL] [--json]

Six buyer clients is where the orders per second stop rising on this 2-core machine
(docs/performance.md: 7.2-9.0 orders/s from 4 clients to 20, at 1,000 orders); more
clients only make the picks queue, so the latency is measured at the load where
throughput is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, col, func, select
from temporalio.worker import Worker

from bench.claims import httpx_client, stock_fabrics, submit_and_pick, with_retries
from bench.stack import (
    RESULTS,
    cpu_by_process,
    cpu_ms_per,
    measure_on_fresh_database,
    running_platform,
    stack_processes,
)
from bench.trivial import OneActivityWorkflow, nothing
from c2b.db import make_engine
from c2b.settings import Settings
from c2b.temporal_client import connect_temporal
from c2b.tokens import create_token
from c2b.worker import cache_bytecode, workflow_runner
from models.schemas import ProductionOrderStatus, Role
from models.stats import percentile
from models.tables import (
    BuyerTeam,
    DemandLine,
    Event,
    FabricReservation,
    Factory,
    ProductionOrder,
    Shipment,
    WorkOrder,
)

POLLERS_PER_FACTORY = 4
STALL_SECONDS = 120
# What a batch of several orders holds: one line per style-colour, each picked, each an
# order of the same three operations (cut, sew, finish) as the single order.
STYLE_COLOURS = [
    ("TS-CREW", "white"),
    ("TS-CREW", "black"),
    ("TS-CREW", "heather"),
    ("TS-LONG", "white"),
    ("TS-LONG", "navy"),
]


async def trivial_rate(address: str, count: int, data_dir: Path) -> float:
    """One-activity workflows per second, ``count`` of them started at once, on a worker
    in this process that caches its bytecode and runs workflows in or out of the sandbox
    as the platform's worker does."""
    cache_bytecode(data_dir / "pycache")
    client = await connect_temporal(address)
    queue = f"bench-trivial-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[OneActivityWorkflow],
        activities=[nothing],
        activity_executor=ThreadPoolExecutor(4),
        workflow_runner=workflow_runner(Settings().workflow_sandbox),
    )
    async with worker:
        run = uuid.uuid4().hex[:8]
        started = time.perf_counter()
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    OneActivityWorkflow.run, i, id=f"bench-trivial-{run}-{i}", task_queue=queue
                )
                for i in range(count)
            )
        )
        await asyncio.gather(*(h.result() for h in handles))
        return count / (time.perf_counter() - started)


async def factory(
    http: httpx.AsyncClient,
    api: str,
    headers: dict[str, str],
    stop: asyncio.Event,
    errors: list[str],
) -> None:
    """Claims and completes at once, all pieces good; a lost answer is retried by key."""
    while not stop.is_set():
        try:
            r = await http.post(
                f"{api}/v1/factory/work-orders/claim", params={"wait": 1}, headers=headers
            )
            if r.status_code == 204:
                continue
            r.raise_for_status()
            wo = r.json()
            body = {"good": [{"size": s, "quantity": q} for s, q in wo["size_breakdown"].items()]}
            done = await with_retries(
                http,
                "POST",
                f"{api}/v1/factory/work-orders/{wo['id']}/complete",
                errors,
                retry_server_errors=True,
                json=body,
                headers={**headers, "Idempotency-Key": f"orch-{wo['id']}"},
            )
            done.raise_for_status()
        except httpx.HTTPError as err:
            errors.append(f"{type(err).__name__}: {err}"[:200])
            await asyncio.sleep(0.5)


def http_requests(api: str) -> Counter[str]:
    """The API's requests answered so far, as ``"METHOD route status"``: its own
    ``c2b_http_requests`` counter from ``/metrics``, less the benchmark's own scrapes."""
    counts: Counter[str] = Counter()
    text = httpx.get(f"{api}/metrics", timeout=10).raise_for_status().text
    for family in text_string_to_metric_families(text):
        if family.name != "c2b_http_requests":
            continue
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_total") and labels["route"] != "/metrics":
                counts[f"{labels['method']} {labels['route']} {labels['status']}"] += int(
                    sample.value
                )
    return counts


def per_unit(before: Counter[str], after: Counter[str], units: int) -> dict[str, float]:
    """What was added between two counts, per unit of work, largest first."""
    added = after - before
    return {key: round(n / units, 2) for key, n in added.most_common()}


def orders_done(engine: sa.Engine) -> int:
    with Session(engine) as s:
        return s.exec(
            select(func.count()).where(ProductionOrder.status == ProductionOrderStatus.DONE)
        ).one()


def duplicates(session: Session) -> dict[str, int]:
    """What must not be there twice, counted from the database."""
    per_operation = session.exec(
        select(func.count())
        .select_from(WorkOrder)
        .group_by(col(WorkOrder.production_order_id), col(WorkOrder.seq))
    ).all()
    events = session.exec(
        select(func.count())
        .select_from(Event)
        .where(Event.entity == "work_order")
        .group_by(col(Event.entity_id), col(Event.kind))
    ).all()
    reservations = session.exec(
        select(func.count())
        .select_from(FabricReservation)
        .group_by(col(FabricReservation.production_order_id), col(FabricReservation.fabric_id))
    ).all()
    shipments = session.exec(
        select(func.count()).select_from(Shipment).group_by(col(Shipment.demand_line_id))
    ).all()
    return {
        "work_orders": sum(n - 1 for n in per_operation),
        "work_order_events": sum(n - 1 for n in events),
        "reservations": sum(n - 1 for n in reservations),
        "shipments": sum(n - 1 for n in shipments),
    }


def pick_to_pollable(session: Session, picked_at: dict[int, datetime]) -> list[float]:
    rows = session.exec(
        select(ProductionOrder.batch_id, WorkOrder.released_at)
        .join(WorkOrder, col(WorkOrder.production_order_id) == col(ProductionOrder.id))
        .where(WorkOrder.seq == 1, WorkOrder.attempt == 1)
    ).all()
    return [
        (released - picked_at[batch_id]).total_seconds()
        for batch_id, released in rows
        if released is not None and batch_id in picked_at
    ]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Clients:
    """The headers a benchmark's clients send: team-nova's buyers, a planner, each factory."""

    buyer: dict[str, str]
    planner: dict[str, str]
    factories: dict[str, dict[str, str]]  # by factory code


def stock_and_sign_in(session: Session, name: str, metres: float = 1_000_000.0) -> Clients:
    """Every fabric stocked (``stock_fabrics``) and tokens named ``name:...`` for the
    benchmark's clients."""
    stock_fabrics(session, metres)
    team = session.exec(select(BuyerTeam).where(BuyerTeam.code == "team-nova")).one()
    clients = Clients(
        buyer=bearer(create_token(session, Role.BUYER, team.id, f"{name}:team-nova").token),
        planner=bearer(create_token(session, Role.PLANNER, None, f"{name}:planner").token),
        factories={
            f.code: bearer(create_token(session, Role.FACTORY, f.id, f"{name}:{f.code}").token)
            for f in session.exec(select(Factory)).all()
        },
    )
    session.commit()
    return clients


def batch_sizes(orders: int, per_batch: int) -> list[int]:
    """Orders per batch: ``per_batch`` each, the last one the rest."""
    if not 1 <= per_batch <= len(STYLE_COLOURS):
        raise ValueError(f"orders per batch must be 1 to {len(STYLE_COLOURS)}, not {per_batch}")
    full, rest = divmod(orders, per_batch)
    return [per_batch] * full + ([rest] if rest else [])


async def run_orders(
    api: str,
    engine: sa.Engine,
    buyer: dict[str, str],
    factories: list[dict[str, str]],
    batches: list[int],
    concurrency: int,
    say: Callable[[str], None],
) -> tuple[float, dict[int, datetime], list[str]]:
    """Seconds until every order of ``batches`` (orders per batch) shipped; when each
    batch's pick was sent; retried errors."""
    orders = sum(batches)
    picked_at: dict[int, datetime] = {}
    errors: list[str] = []
    stop = asyncio.Event()
    gate = asyncio.Semaphore(concurrency)
    async with (
        httpx_client(len(factories) * POLLERS_PER_FACTORY) as fhttp,
        httpx_client(concurrency) as bhttp,
    ):

        async def one(i: int, size: int) -> None:
            need_by = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
            line = {"customer_ref": f"ORCH-{i}", "size": ["S", "M", "L"][i % 3], "need_by": need_by}
            async with gate:
                batch_id, sent = await submit_and_pick(
                    bhttp,
                    api,
                    buyer,
                    line,
                    f"orch-{i}-{need_by}",
                    errors,
                    poll_s=0.1,
                    style_colours=STYLE_COLOURS[:size],
                )
            picked_at[batch_id] = sent

        pollers = [
            asyncio.create_task(factory(fhttp, api, h, stop, errors))
            for h in factories
            for _ in range(POLLERS_PER_FACTORY)
        ]
        started = time.perf_counter()
        submitting = asyncio.gather(*(one(i, size) for i, size in enumerate(batches)))
        try:
            done, last, last_at = 0, -1, time.monotonic()
            while done < orders:
                await asyncio.sleep(1.0)
                if submitting.done():
                    submitting.result()  # a failed submission ends the run
                done = orders_done(engine)
                if done != last:
                    elapsed = time.perf_counter() - started
                    say(f"  {done}/{orders} orders shipped after {elapsed:.0f} s")
                    last, last_at = done, time.monotonic()
                elif time.monotonic() - last_at > STALL_SECONDS:
                    raise RuntimeError(f"no order shipped for {STALL_SECONDS} s")
            elapsed = time.perf_counter() - started
            await submitting
        finally:
            stop.set()
            submitting.cancel()
            with contextlib.suppress(BaseException):
                await submitting
            await asyncio.gather(*pollers, return_exceptions=True)
    return elapsed, picked_at, errors


async def run(
    database_url: str,
    data_dir: Path,
    batches: list[int],
    concurrency: int,
    trivial: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """One run: the baseline, then ``batches`` (orders per batch) through the flow."""
    orders, per_batch = sum(batches), max(batches)
    say("starting the platform (c2b dev) on a fresh database ...")
    with running_platform(database_url, data_dir) as stack:
        engine = make_engine(database_url)
        with Session(engine) as s:
            clients = stock_and_sign_in(s, "bench")
        buyer, factories = clients.buyer, list(clients.factories.values())

        processes = stack_processes(stack.pid)
        say(f"baseline: {trivial} one-activity workflows on the same server ...")
        cpu_before = cpu_by_process(processes)
        trivial_per_s = await trivial_rate(stack.temporal_address, trivial, data_dir)
        cpu_trivial = cpu_ms_per(cpu_before, cpu_by_process(processes), trivial)
        say(f"  {trivial_per_s:.1f} workflows/s")

        say(
            f"orders: {orders} in batches of {per_batch}, {concurrency} buyer clients at a time ..."
        )
        cpu_before = cpu_by_process(processes)
        requests_before = http_requests(stack.api_url)
        elapsed, picked_at, errors = await run_orders(
            stack.api_url, engine, buyer, factories, batches, concurrency, say
        )
        cpu_order = cpu_ms_per(cpu_before, cpu_by_process(processes), orders)
        requests = per_unit(requests_before, http_requests(stack.api_url), orders)

        say("checking the database ...")
        with Session(engine) as s:
            found = duplicates(s)
            latencies = pick_to_pollable(s, picked_at)
            lines = s.exec(
                select(DemandLine.status, func.count()).group_by(col(DemandLine.status))
            ).all()
        engine.dispose()

    orders_per_s = orders / elapsed
    return {
        "benchmark": "production orders through the full flow on the embedded stack",
        "database": sa.engine.make_url(database_url).get_backend_name(),
        "orders": orders,
        "orders_per_batch": per_batch,
        "concurrency": concurrency,
        "seconds": round(elapsed, 1),
        "orders_per_s": round(orders_per_s, 2),
        "trivial_workflows": trivial,
        "trivial_wf_per_s": round(trivial_per_s, 1),
        "ratio": round(orders_per_s / trivial_per_s, 3),
        # Where the machine's CPU goes: per trivial workflow ("bench" is this process:
        # the trivial worker and its client) and per order ("bench": the buyer and
        # factory clients).
        "cpu_ms_per_trivial_workflow": cpu_trivial,
        "cpu_ms_per_order": cpu_order,
        # The API's requests per order by method, route and status (its /metrics), the
        # factories' empty long-polls (204) included.
        "requests_per_order": requests,
        "pick_to_pollable_p50_s": round(statistics.median(latencies), 3) if latencies else 0.0,
        "pick_to_pollable_p99_s": round(percentile(latencies, 0.99), 3),
        "duplicates": sum(found.values()),
        "duplicates_by_kind": found,
        "lines_by_status": {str(k): n for k, n in lines},
        "retried_requests": len(errors),
        "errors": errors[:20],
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def measure(
    database_url: str | None,
    orders: int,
    concurrency: int,
    trivial: int,
    say: Callable[[str], None] = lambda _: None,
    out: Path | None = None,
    per_batch: int = 1,
) -> dict[str, Any]:
    """One run on a fresh database, written to bench/results/orchestration-<database>.json
    (orchestration-<database>-batches-of-<n>.json with several orders per batch)."""
    batches = batch_sizes(orders, per_batch)  # a bad size is refused before anything starts
    if out is None and per_batch > 1:
        backend = sa.engine.make_url(database_url or "sqlite://").get_backend_name()
        out = RESULTS / f"orchestration-{backend}-batches-of-{per_batch}.json"

    def one_run(url: str, tmp: Path) -> dict[str, Any]:
        return asyncio.run(run(url, tmp, batches, concurrency, trivial, say))

    return measure_on_fresh_database("orchestration", database_url, one_run, say, out)
