"""Benchmark: the chaos run. Orders flow through the whole platform while the worker, the
API and the Temporal dev server are killed with SIGKILL at random moments and started
again; afterwards every invariant of DESIGN.md that a crash could break is checked
against the database and Temporal.

Each process runs on its own (not under ``c2b dev``, which would take the others down
with it): the dev server on a state file that survives its deaths, one worker, the API.
Buyer clients submit one-line batches (with an Idempotency-Key) and pick them; factory
clients claim and complete at once. Both behave as real clients do: a lost connection or
a 5xx is tried again, and a factory that lost the answer to its claim finds the work
order among its own claimed ones. The killer picks its victims in shuffled rounds (each
process as often as the others), every ``--kill-every`` seconds give or take half, and
restarts each after 0.2-2 s; it stops once every order shipped, or after ``--rounds``
rounds exactly when that is given.

Counted afterwards (all must be 0):

- ``lost_lines``: lines the API accepted (201) that are not in the database, or that did
  not end shipped;
- ``duplicate_work_orders``: more than one live work order for an operation of an order;
- ``double_counted_completions``: a work order's completion recorded twice, a line
  shipped twice, or a reservation made twice;
- ``stuck_orders``: production orders not done, or whose workflow is not completed in
  Temporal, ``--stuck-after`` seconds after the last restart.

``recovery_s`` per kill: from the kill until the restarted platform answers healthy and
the next order ships (when orders remain).

    c2b bench chaos [--orders 300] [--concurrency 10] [--kill-every 6] [--json]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess  # nosec B404
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, col, func, select
from temporalio.client import WorkflowExecutionStatus

from bench.claims import httpx_client, submit_and_pick
from bench.orchestration import duplicates, orders_done, stock_and_sign_in
from bench.stack import PROJECT_ROOT, measure_on_fresh_database, platform_env
from c2b import migrate
from c2b.db import make_engine, make_session_factory
from c2b.devstack import dev_server_args, die_with_parent
from c2b.seed import seed_demo_data
from c2b.temporal_client import connect_temporal
from models.queues import production_order_workflow_id
from models.schemas import DemandLineStatus, ProductionOrderStatus, WorkOrderStatus
from models.stats import percentile
from models.tables import (
    DemandLine,
    Event,
    ProductionOrder,
    WorkOrder,
)

VICTIMS = ("worker", "api", "temporal")
ATTEMPTS = 60  # a client's tries of one request: a restart takes seconds, not minutes
POLLERS_PER_FACTORY = 2


@dataclass
class Process:
    """One of the platform's processes, killed and started again at will."""

    name: str
    args: list[str]
    env: dict[str, str]
    logs: Path
    popen: subprocess.Popen[bytes] | None = None
    runs: int = 0

    def start(self) -> None:
        self.runs += 1
        with (self.logs / f"{self.name}-{self.runs}.log").open("ab") as out:
            # Our own binaries from an argument list, never through a shell.
            self.popen = subprocess.Popen(  # nosec B603
                self.args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=PROJECT_ROOT,
                preexec_fn=die_with_parent,
            )

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Kill:
    process: str
    at: float
    restarted_at: float = 0.0
    healthy_at: float | None = None
    recovered_at: float | None = None

    @property
    def recovery_s(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.at


@dataclass
class Run:
    """What the clients saw, for the checks afterwards."""

    accepted_refs: set[str] = field(default_factory=set)
    retried: list[str] = field(default_factory=list)
    shipped_at: list[tuple[float, int]] = field(default_factory=list)  # (time, orders done)
    kills: list[Kill] = field(default_factory=list)


def platform(database_url: str, data_dir: Path) -> tuple[dict[str, Process], str]:
    """The three processes on free ports (not started) and the API's URL."""
    env, (temporal, ui, api) = platform_env(database_url, data_dir)
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "c2b"]
    processes = {
        "temporal": Process(
            "temporal",
            dev_server_args(data_dir / "temporal.db", "127.0.0.1", temporal, ui),
            env,
            logs,
        ),
        "worker": Process("worker", [*cli, "worker"], env, logs),
        "api": Process("api", [*cli, "api"], env, logs),
    }
    return processes, f"http://127.0.0.1:{api}"


async def healthy(http: httpx.AsyncClient, api: str) -> bool:
    try:
        r = await http.get(f"{api}/health", timeout=2)
    except httpx.HTTPError:
        return False
    if r.status_code != 200:
        return False
    body = r.json()
    return bool(body["database"]["ok"] and body["temporal"]["ok"])


async def wait_healthy(http: httpx.AsyncClient, api: str, timeout: float = 120) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await healthy(http, api):
            return time.monotonic()
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{api} not healthy within {timeout:.0f} s")


async def buyer(
    http: httpx.AsyncClient, api: str, headers: dict[str, str], i: int, run: Run
) -> None:
    """One one-line batch, submitted and picked as a patient client would."""
    need_by = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    ref = f"CHAOS-{i}"
    line = {"customer_ref": ref, "size": ["S", "M", "L"][i % 3], "need_by": need_by}
    await submit_and_pick(
        http,
        api,
        headers,
        line,
        f"chaos-{i}-{need_by}",
        run.retried,
        poll_s=0.2,
        attempts=ATTEMPTS,
        retry_server_errors=True,
        on_accepted=lambda: run.accepted_refs.add(ref),
    )


async def factory(
    http: httpx.AsyncClient, api: str, headers: dict[str, str], stop: asyncio.Event, run: Run
) -> None:
    """Claims and completes at once, all pieces good. After a lost answer it looks for
    work orders it holds (claimed or started) and completes those first."""

    async def complete(wo: dict[str, Any]) -> None:
        body = {"good": [{"size": s, "quantity": q} for s, q in wo["size_breakdown"].items()]}
        while not stop.is_set():
            try:
                r = await http.post(
                    f"{api}/v1/factory/work-orders/{wo['id']}/complete",
                    json=body,
                    headers={**headers, "Idempotency-Key": f"chaos-{wo['id']}"},
                )
            except httpx.HTTPError as err:
                run.retried.append(f"complete {wo['id']}: {err!r}"[:200])
                await asyncio.sleep(0.5)
                continue
            if r.status_code < 500:
                return  # done, or refused for good (withdrawn, cancelled): nothing to retry
            run.retried.append(f"complete {wo['id']}: {r.status_code}")
            await asyncio.sleep(0.5)

    held = {"status": [WorkOrderStatus.CLAIMED.value, WorkOrderStatus.STARTED.value]}
    while not stop.is_set():
        try:
            mine = await http.get(f"{api}/v1/factory/work-orders", params=held, headers=headers)
            if mine.status_code == 200:
                for wo in mine.json()["data"]:
                    await complete(wo)
            r = await http.post(
                f"{api}/v1/factory/work-orders/claim", params={"wait": 1}, headers=headers
            )
            if r.status_code == 200:
                await complete(r.json())
            elif r.status_code != 204:
                await asyncio.sleep(0.5)
        except httpx.HTTPError as err:
            run.retried.append(f"poll: {err!r}"[:200])
            await asyncio.sleep(0.5)


async def killer(
    processes: dict[str, Process],
    http: httpx.AsyncClient,
    api: str,
    every_s: float,
    rounds: int,
    exact: bool,
    rng: random.Random,
    run: Run,
    stop: asyncio.Event,
) -> None:
    """``rounds`` rounds of kills, each process once per round in a shuffled order; unless
    ``exact``, it stops early once every order has shipped."""
    for _ in range(rounds):
        order = list(VICTIMS)
        rng.shuffle(order)
        for name in order:
            pause = every_s * rng.uniform(0.5, 1.5)
            if exact:
                await asyncio.sleep(pause)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=pause)
                if stop.is_set():
                    return
            kill = Kill(process=name, at=time.monotonic())
            await asyncio.to_thread(processes[name].kill)
            run.kills.append(kill)
            await asyncio.sleep(rng.uniform(0.2, 2.0))
            processes[name].start()
            kill.restarted_at = time.monotonic()
            kill.healthy_at = await wait_healthy(http, api)


async def watch(engine: sa.Engine, orders: int, run: Run, stop: asyncio.Event) -> None:
    """When each order shipped, as the database says (twice a second)."""
    last = 0
    while not stop.is_set():
        done = await asyncio.to_thread(orders_done, engine)
        if done != last:
            run.shipped_at.append((time.monotonic(), done))
            last = done
        if done >= orders:
            stop.set()
        await asyncio.sleep(0.5)


def recoveries(run: Run) -> list[float]:
    """Each kill's recovery: healthy again, and the next order shipped after the restart
    (or just healthy, when no order shipped after it: every one had)."""
    out = []
    for kill in run.kills:
        if kill.healthy_at is None:
            continue
        after = [t for t, _ in run.shipped_at if t > kill.restarted_at]
        end = max(kill.healthy_at, after[0]) if after else kill.healthy_at
        kill.recovered_at = end
        out.append(end - kill.at)
    return out


def check(session: Session, run: Run) -> dict[str, Any]:
    """The invariants a crash could break, from the database."""
    lines = dict(session.exec(select(DemandLine.customer_ref, DemandLine.status)).all())
    missing = [ref for ref in run.accepted_refs if ref not in lines]
    shipped = DemandLineStatus.SHIPPED
    unshipped = [ref for ref in run.accepted_refs if ref in lines and lines[ref] != shipped]
    live_per_operation = session.exec(
        select(func.count())
        .select_from(WorkOrder)
        .where(col(WorkOrder.status) != WorkOrderStatus.WITHDRAWN)
        .group_by(col(WorkOrder.production_order_id), col(WorkOrder.seq))
    ).all()
    completions = session.exec(
        select(func.count())
        .select_from(Event)
        .where(Event.entity == "work_order", Event.kind == "completed")
        .group_by(col(Event.entity_id))
    ).all()
    found = duplicates(session)
    by_status = session.exec(
        select(DemandLine.status, func.count()).group_by(col(DemandLine.status))
    ).all()
    return {
        "missing_lines": sorted(missing),
        "unshipped_lines": sorted(unshipped),
        "duplicate_work_orders": sum(n - 1 for n in live_per_operation) + found["work_orders"],
        "double_counted_completions": sum(n - 1 for n in completions)
        + found["shipments"]
        + found["reservations"],
        "lines_by_status": {str(k): n for k, n in by_status},
    }


async def not_completed_in_temporal(address: str, order_ids: list[int]) -> list[int]:
    client = await connect_temporal(address)
    out = []
    for order_id in order_ids:
        handle = client.get_workflow_handle(production_order_workflow_id(order_id))
        described = await handle.describe()
        if described.status != WorkflowExecutionStatus.COMPLETED:
            out.append(order_id)
    return out


async def run_chaos(
    database_url: str,
    data_dir: Path,
    orders: int,
    concurrency: int,
    every_s: float,
    stuck_after_s: float,
    seed: int,
    rounds: int | None,
    say: Callable[[str], None],
) -> dict[str, Any]:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    with make_session_factory(engine)() as s:
        seed_demo_data(s)
        clients = stock_and_sign_in(s, "chaos")
    buyer_headers, factory_headers = clients.buyer, list(clients.factories.values())
    processes, api = platform(database_url, data_dir)
    rng = random.Random(seed)
    run = Run()
    stop = asyncio.Event()
    say("starting the Temporal dev server, a worker and the API ...")
    for name in ("temporal", "worker", "api"):
        processes[name].start()
    try:
        async with (
            httpx_client(len(factory_headers) * POLLERS_PER_FACTORY + 4) as fhttp,
            httpx_client(concurrency + 4) as bhttp,
        ):
            await wait_healthy(bhttp, api)
            exact = rounds is not None
            rounds = rounds if rounds is not None else max(3, orders // 50)
            say(f"{orders} orders, {concurrency} buyers at a time; a kill every ~{every_s:g} s")
            started = time.monotonic()
            gate = asyncio.Semaphore(concurrency)

            async def one(i: int) -> None:
                async with gate:
                    await buyer(bhttp, api, buyer_headers, i, run)

            tasks = [
                asyncio.create_task(factory(fhttp, api, h, stop, run))
                for h in factory_headers
                for _ in range(POLLERS_PER_FACTORY)
            ]
            tasks.append(asyncio.create_task(watch(engine, orders, run, stop)))
            chaos = asyncio.create_task(
                killer(processes, bhttp, api, every_s, rounds, exact, rng, run, stop)
            )
            submitting = asyncio.gather(*(one(i) for i in range(orders)))
            await submitting
            say(f"  all {orders} batches picked after {time.monotonic() - started:.0f} s")
            await chaos  # the killer stops once every order shipped, or after its rounds
            last_restart = max((k.restarted_at for k in run.kills), default=started)
            say(f"  {len(run.kills)} kills; up to {stuck_after_s:g} s more after the last restart")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stop.wait(), timeout=max(1.0, last_restart + stuck_after_s - time.monotonic())
                )
            elapsed = (run.shipped_at[-1][0] if run.shipped_at else time.monotonic()) - started
            stop.set()
            failed = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if r]
            if failed:  # a client's bug, not the platform's: the run says nothing then
                raise RuntimeError(f"a client task failed: {failed[0]!r}") from failed[0]
        say("checking the database and Temporal ...")
        with Session(engine) as s:
            found = check(s, run)
            done = ProductionOrderStatus.DONE
            statuses = dict(s.exec(select(ProductionOrder.id, ProductionOrder.status)).all())
            all_orders = [order_id for order_id in statuses if order_id is not None]
            open_orders = [order_id for order_id in all_orders if statuses[order_id] != done]
        not_done_in_temporal = await not_completed_in_temporal(
            processes["temporal"].env["TEMPORAL_ADDRESS"], all_orders
        )
    finally:
        for name in ("api", "worker", "temporal"):
            processes[name].stop()
        engine.dispose()
    recovered = recoveries(run)
    stuck = set(open_orders) | set(not_done_in_temporal)
    by_process = {name: sum(1 for k in run.kills if k.process == name) for name in VICTIMS}
    return {
        "benchmark": "orders through kill -9 of the worker, the API and the Temporal dev server",
        "database": sa.engine.make_url(database_url).get_backend_name(),
        "orders": orders,
        "production_orders": len(all_orders),
        "kills": len(run.kills),
        "kills_by_process": by_process,
        "lost_lines": len(found["missing_lines"]) + len(found["unshipped_lines"]),
        "duplicate_work_orders": found["duplicate_work_orders"],
        "double_counted_completions": found["double_counted_completions"],
        "stuck_orders": len(stuck),
        "recovery_p50_s": round(statistics.median(recovered), 2) if recovered else 0.0,
        "recovery_p99_s": round(percentile(recovered, 0.99), 2) if recovered else 0.0,
        "recovery_by_process_max_s": {
            name: round(max((k.recovery_s or 0.0) for k in run.kills if k.process == name), 2)
            for name in VICTIMS
            if by_process[name]
        },
        "seconds": round(elapsed, 1),
        "orders_per_s": round(orders / elapsed, 2) if elapsed > 0 else 0.0,
        "retried_requests": len(run.retried),
        "lines_by_status": found["lines_by_status"],
        "missing_lines": found["missing_lines"][:20],
        "unshipped_lines": found["unshipped_lines"][:20],
        "stuck_order_ids": sorted(stuck)[:20],
        "kill_every_s": every_s,
        "stuck_after_s": stuck_after_s,
        "seed": seed,
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def measure(
    database_url: str | None,
    orders: int,
    concurrency: int,
    every_s: float,
    stuck_after_s: float,
    seed: int,
    rounds: int | None = None,
    say: Callable[[str], None] = lambda _: None,
    out: Path | None = None,
) -> dict[str, Any]:
    """One chaos run on a fresh database, written to bench/results/chaos-<database>.json."""

    def one_run(url: str, tmp: Path) -> dict[str, Any]:
        return asyncio.run(
            run_chaos(url, tmp, orders, concurrency, every_s, stuck_after_s, seed, rounds, say)
        )

    return measure_on_fresh_database("chaos", database_url, one_run, say, out)
