"""Benchmark: factories claiming and completing work orders over HTTP, against the limit of
a bare FastAPI route that reads one row by primary key, measured in the same run.

Everything is real and out of process: ``c2b dev`` (Temporal dev server, worker, API under
uvicorn) on a fresh database, and the baseline app under uvicorn beside it. Two phases:

1. **Claims.** ``--work-orders`` released work orders are spread over ``--factories``
   factories; ``--pollers`` concurrent pollers (an equal share per factory) claim until
   their factory's queue is empty. Before that, the same pollers make as many requests to
   the baseline route. ``ratio`` = claims per second / baseline requests per second.
2. **Completions.** ``--orders`` demand batches become production orders whose workflows
   release their work orders in routing order; the same pollers claim, start and complete
   them (each completion an Update on the order's workflow), and re-send one in ten
   completions with the same ``Idempotency-Key`` as a client whose answer got lost would.
   This phase runs at the pace of the Temporal dev server (about 35 workflow steps a
   second on 2 cores), so it is sized apart from the claims.

Afterwards the database and the workflows are checked: ``double_claims`` (a work order
handed out twice), ``lost_completions`` (acknowledged but not recorded by the database or
not counted by the workflow) and ``double_counted`` (recorded twice, or a re-sent
completion answered differently) must all be 0.

    c2b bench claims [--pollers 200] [--work-orders 10000] [--database-url URL] [--json]
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from bench.stack import measure_on_fresh_database, running_platform, served
from c2b.db import make_engine
from c2b.temporal_client import connect_temporal
from c2b.tokens import create_token
from models.schemas import (
    BatchStatus,
    OrderProgress,
    ProductionOrderStatus,
    Role,
    WorkOrderStatus,
)
from models.stats import percentile
from models.tables import (
    BuyerTeam,
    DemandBatch,
    Event,
    Fabric,
    Factory,
    ProductionOrder,
    WorkCentre,
    WorkOrder,
)
from workflows.production_order import ProductionOrderWorkflow

RESEND_SHARE = 0.1
STALL_SECONDS = 120
PACED_SECONDS = 15


def percentile_ms(samples: list[float], q: float) -> float:
    return round(percentile(samples, q) * 1000, 1)


@dataclass(frozen=True)
class BenchFactory:
    id: int
    code: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def stock_fabrics(session: Session, metres: float = 1_000_000.0) -> None:
    """Every fabric stocked with ``metres``: no benchmark order waits for a purchase."""
    for fabric in session.exec(select(Fabric)).all():
        fabric.metres_on_hand = metres
    session.commit()


def prepare_factories(session: Session, count: int) -> list[BenchFactory]:
    """The seeded factories plus bench factories (one cut/sew/finish line each) up to
    ``count``, each with its own token."""
    factories = list(session.exec(select(Factory).order_by(col(Factory.id))).all())
    for n in range(len(factories) + 1, count + 1):
        factory = Factory(code=f"BENCH-{n:02d}", name=f"Bench factory {n}")
        session.add(factory)
        session.flush()
        session.add(
            WorkCentre(
                factory_id=factory.id or 0,
                code=f"BENCH-{n:02d}-LINE",
                name="Bench line",
                operation_kinds=["cut", "sew", "finish"],
            )
        )
        factories.append(factory)
    session.commit()
    return [
        BenchFactory(
            f.id or 0, f.code, create_token(session, Role.FACTORY, f.id, f"bench:{f.code}").token
        )
        for f in factories[:count]
    ]


def release_work_orders(session: Session, factories: list[BenchFactory], total: int) -> list[int]:
    """``total`` released work orders, dealt round-robin to the factories, under one bench
    production order per factory (their workflows never run: phase 1 only claims)."""
    team = session.exec(select(BuyerTeam).order_by(col(BuyerTeam.id))).first()
    assert team is not None, "the seed has buyer teams"
    batch = DemandBatch(team_id=team.id or 0, status=BatchStatus.DONE)
    session.add(batch)
    session.flush()
    orders: dict[int, int] = {}
    centres: dict[int, int] = {}
    for f in factories:
        order = ProductionOrder(
            batch_id=batch.id or 0,
            team_id=team.id or 0,
            style_code="TS-CREW",
            colour=f"bench-{f.code}",
            size_breakdown={"M": 10},
            quantity=10,
            status=ProductionOrderStatus.IN_PRODUCTION,
            workflow_id=f"bench-no-workflow-{f.code}",
        )
        session.add(order)
        session.flush()
        orders[f.id] = order.id or 0
        centre = session.exec(select(WorkCentre).where(WorkCentre.factory_id == f.id)).first()
        assert centre is not None
        centres[f.id] = centre.id or 0
    start = datetime.now(UTC)
    rows = []
    for i in range(total):
        f = factories[i % len(factories)]
        at = start + timedelta(minutes=i)
        rows.append(
            WorkOrder(
                production_order_id=orders[f.id],
                seq=1,
                attempt=i + 1,
                operation_kind="cut",
                factory_id=f.id,
                work_centre_id=centres[f.id],
                quantity=10,
                size_breakdown={"M": 10},
                planned_start=at,
                planned_end=at + timedelta(minutes=30),
                status=WorkOrderStatus.RELEASED,
            )
        )
    session.add_all(rows)
    session.commit()
    return [wo.id or 0 for wo in rows]


@dataclass
class Phase:
    latencies: list[float] = field(default_factory=list)
    started: float = 0.0
    last_success: float = 0.0

    @property
    def per_s(self) -> float:
        elapsed = self.last_success - self.started
        return len(self.latencies) / elapsed if elapsed > 0 else 0.0


def load_client(pollers: int) -> aiohttp.ClientSession:
    """The load generator's HTTP client for the measured phases. aiohttp, because it costs
    the client a fraction of httpx's CPU per request: on 2 cores shared with the servers,
    an httpx client with 200 requests in flight was itself the bottleneck (a core of its
    own while the API idled at a third of one), so both rates measured the client.
    Idle connections are dropped after 1 s, before uvicorn's 5 s keep-alive could close
    one under a new request."""
    connector = aiohttp.TCPConnector(limit=pollers, keepalive_timeout=1.0)
    return aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=120), raise_for_status=True
    )


def httpx_client(connections: int) -> httpx.AsyncClient:
    """The buyers' and the completing factories' client. Idle connections are dropped
    after 1 s: with httpx's default of 5 s, the same as uvicorn's keep-alive, a connection
    could be reused just as the server closed it (a ReadError)."""
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=1.0
    )
    return httpx.AsyncClient(limits=limits, timeout=120)


async def baseline(http: aiohttp.ClientSession, url: str, ids: list[int], pollers: int) -> Phase:
    """``len(ids)`` primary-key reads by ``pollers`` concurrent clients."""
    phase = Phase(started=time.perf_counter())
    shares = [ids[i::pollers] for i in range(pollers)]

    async def client(share: list[int]) -> None:
        for wo_id in share:
            t0 = time.perf_counter()
            async with http.get(f"{url}/work-orders/{wo_id}") as r:
                await r.read()
            phase.last_success = time.perf_counter()
            phase.latencies.append(phase.last_success - t0)

    await asyncio.gather(*(client(s) for s in shares))
    return phase


async def claim_everything(
    http: aiohttp.ClientSession, api: str, factories: list[BenchFactory], pollers: int
) -> tuple[Phase, list[tuple[int, int]]]:
    """Pollers claim until their factory's queue answers 204; returns (phase, claims as
    (work order id, claiming factory id))."""
    phase = Phase(started=time.perf_counter())
    claims: list[tuple[int, int]] = []

    async def poller(f: BenchFactory) -> None:
        while True:
            t0 = time.perf_counter()
            async with http.post(f"{api}/v1/factory/work-orders/claim", headers=f.headers) as r:
                if r.status == 204:
                    return
                wo = await r.json()
            phase.last_success = time.perf_counter()
            phase.latencies.append(phase.last_success - t0)
            claims.append((wo["id"], f.id))

    await asyncio.gather(*(poller(factories[i % len(factories)]) for i in range(pollers)))
    return phase, claims


async def claim_paced(
    http: aiohttp.ClientSession,
    api: str,
    factories: list[BenchFactory],
    rate: float,
    count: int,
) -> tuple[list[float], list[tuple[int, int]]]:
    """``count`` claims arriving at ``rate`` a second whatever the answers (an open loop, as
    independent factories poll): the latency of a claim when the API is not saturated."""
    latencies: list[float] = []
    claims: list[tuple[int, int]] = []

    async def one(f: BenchFactory) -> None:
        t0 = time.perf_counter()
        async with http.post(f"{api}/v1/factory/work-orders/claim", headers=f.headers) as r:
            wo = await r.json()
        latencies.append(time.perf_counter() - t0)
        claims.append((wo["id"], f.id))

    started = time.perf_counter()
    tasks = []
    for i in range(count):
        await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(factories[i % len(factories)])))
    await asyncio.gather(*tasks)
    return latencies, claims


@dataclass
class Completions:
    phase: Phase
    acked: dict[int, int] = field(default_factory=dict)  # work order id -> good quantity
    resent: int = 0
    resent_mismatches: int = 0
    order_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def with_retries(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    errors: list[str],
    *,
    retry_server_errors: bool = False,
    attempts: int = 3,
    **kw: Any,
) -> httpx.Response:
    """A request that is safe to repeat, sent as a client of the platform would: a lost
    connection (and with ``retry_server_errors`` a 5xx answer) is tried again, ``attempts``
    tries in all, each failure listed in ``errors``. The last lost connection is raised;
    the last 5xx answer is returned. The pause between tries grows by a second up to 3 s."""
    for attempt in range(1, attempts + 1):
        try:
            response = await http.request(method, url, **kw)
            if not retry_server_errors or response.status_code < 500 or attempt == attempts:
                return response
            errors.append(
                f"{method} {url} attempt {attempt}: {response.status_code} {response.text}"
            )
        except httpx.TransportError as err:
            errors.append(f"{method} {url} attempt {attempt}: {err!r}")
            if attempt == attempts:
                raise
        await asyncio.sleep(min(attempt, 3))
    raise AssertionError("unreachable: the last try returns or raises")


async def submit_orders(api: str, buyer: dict[str, str], n: int) -> list[str]:
    """``n`` one-line batches of crew tees, each picked with its window closed at once.
    Returns the transport errors that were retried. The buyer team has its own HTTP client:
    the factories' pollers keep every connection of theirs busy, and a request queued
    behind them could wait for a free one indefinitely."""
    need_by = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    retried: list[str] = []

    async def one(http: httpx.AsyncClient, i: int) -> None:
        line = {"customer_ref": f"BENCH-{i}", "size": "M", "need_by": need_by}
        await submit_and_pick(http, api, buyer, line, f"bench-batch-{i}-{need_by}", retried)

    async with httpx_client(n) as http:
        await asyncio.gather(*(one(http, i) for i in range(n)))
    return retried


async def submit_and_pick(
    http: httpx.AsyncClient,
    api: str,
    buyer: dict[str, str],
    line: dict[str, Any],
    key: str,
    retried: list[str],
    poll_s: float = 0.2,
    attempts: int = 3,
    retry_server_errors: bool = False,
    on_accepted: Callable[[], None] = lambda: None,
    style_colours: Sequence[tuple[str, str]] = (("TS-CREW", "white"),),
) -> tuple[int, datetime]:
    """One line of white crew tees (``line`` overrides the defaults: ref, size, need_by) as
    its own batch, keyed by ``key``, picked with its window closed as soon as it opens: one
    production order. With several ``style_colours`` the batch has one such line of each,
    refs numbered, and picks them all: one order each. As a buyer's client would, a
    connection lost mid-request is tried again (these steps are safe to repeat: a pick is
    the team's last word per style and colour); each retry is listed in ``retried``.
    Returns the batch's id and when its pick was sent."""
    base = {"quantity": 100, "channel": "web", "region": "EU", **line}
    ref = base.get("customer_ref", "C")
    lines = [
        {
            **base,
            "style": style,
            "colour": colour,
            **({"customer_ref": f"{ref}-{k}"} if len(style_colours) > 1 else {}),
        }
        for k, (style, colour) in enumerate(style_colours, start=1)
    ]

    async def send(
        method: str, url: str, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        return await with_retries(
            http,
            method,
            f"{api}{url}",
            retried,
            headers={**buyer, **(headers or {})},
            attempts=attempts,
            retry_server_errors=retry_server_errors,
            **kw,
        )

    # Without an Idempotency-Key a lost answer could mean a second batch: keyed.
    r = await send(
        "POST", "/v1/demand-batches", json={"lines": lines}, headers={"Idempotency-Key": key}
    )
    r.raise_for_status()
    on_accepted()
    batch_id: int = r.json()["batch_id"]
    batch = f"/v1/demand-batches/{batch_id}"
    deadline = time.monotonic() + STALL_SECONDS
    while True:  # the pick window opens once the batch is aggregated
        r = await send("GET", batch)
        r.raise_for_status()
        if r.json()["status"] == "picking":
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{batch} not aggregated in {STALL_SECONDS} s")
        await asyncio.sleep(poll_s)
    picks = [{"style": style, "colour": colour} for style, colour in style_colours]
    pick = {"picks": picks, "close_window": True}
    picked_at = datetime.now(UTC)
    r = await send("POST", f"{batch}/picks", json=pick)
    if r.status_code == 409 and "pick window is closed" in r.text:
        # An earlier attempt's pick closed it and its answer was lost (the batch's status
        # in the database follows a moment later).
        return batch_id, picked_at
    if r.status_code >= 400:
        raise RuntimeError(f"POST {batch}/picks: {r.status_code} {r.text}")
    return batch_id, picked_at


def orders_done(session: Session, since_id: int) -> tuple[int, list[int]]:
    rows = session.exec(
        select(ProductionOrder.id, ProductionOrder.status).where(col(ProductionOrder.id) > since_id)
    ).all()
    done = sum(1 for _, s in rows if s == ProductionOrderStatus.DONE)
    return done, [i for i, _ in rows if i is not None]


async def complete_orders(
    http: httpx.AsyncClient,
    api: str,
    engine: sa.Engine,
    factories: list[BenchFactory],
    buyer: dict[str, str],
    orders: int,
    pollers: int,
    timeout: float,
) -> Completions:
    with Session(engine) as s:
        since = s.exec(select(func.max(ProductionOrder.id))).one() or 0
    result = Completions(phase=Phase(started=time.perf_counter()))
    rng = random.Random(7)
    finished = asyncio.Event()

    async def poller(f: BenchFactory) -> None:
        while not finished.is_set():
            try:
                await claim_and_complete(f)
            except httpx.HTTPStatusError as err:  # counted and shown, then the next one
                result.errors.append(f"{err.request.url.path}: {err.response.text[:200]}")
            except httpx.TransportError as err:
                result.errors.append(f"{err.request.url.path}: {err!r}")

    async def claim_and_complete(f: BenchFactory) -> None:
        r = await http.post(
            f"{api}/v1/factory/work-orders/claim", params={"wait": 1}, headers=f.headers
        )
        if r.status_code == 204:
            return
        r.raise_for_status()
        wo = r.json()
        base = f"{api}/v1/factory/work-orders/{wo['id']}"
        (await http.post(f"{base}/start", headers=f.headers)).raise_for_status()
        body = {"good": [{"size": s, "quantity": q} for s, q in wo["size_breakdown"].items()]}
        headers = {**f.headers, "Idempotency-Key": f"bench-{wo['id']}"}
        t0 = time.perf_counter()
        done = await complete(f"{base}/complete", body, headers)
        result.phase.last_success = time.perf_counter()
        if not result.acked:  # the rate counts from the first acknowledged completion
            result.phase.started = t0
        result.phase.latencies.append(result.phase.last_success - t0)
        result.acked[wo["id"]] = done.json()["good_quantity"]
        if rng.random() < RESEND_SHARE:  # the answer "got lost": the client sends again
            again = await http.post(f"{base}/complete", json=body, headers=headers)
            result.resent += 1
            if again.status_code != 200 or again.json() != done.json():
                result.resent_mismatches += 1

    async def complete(url: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        """As a factory's client would: a lost answer or a 5xx is retried with the same key."""
        done = await with_retries(
            http, "POST", url, result.errors, retry_server_errors=True, json=body, headers=headers
        )
        return done.raise_for_status()

    tasks = [asyncio.create_task(poller(factories[i % len(factories)])) for i in range(pollers)]
    try:
        result.errors += await submit_orders(api, buyer, orders)
        deadline = time.monotonic() + timeout
        progress, progress_at = -1, time.monotonic()
        while time.monotonic() < deadline:
            with Session(engine) as s:
                done_count, result.order_ids = orders_done(s, since)
            if done_count >= orders:
                break
            if len(result.acked) != progress:
                progress, progress_at = len(result.acked), time.monotonic()
            elif time.monotonic() - progress_at > STALL_SECONDS:
                result.errors.append(f"no completion for {STALL_SECONDS} s: stopped waiting")
                break
            await asyncio.sleep(0.5)
    finally:  # the pollers stop however this phase ends
        finished.set()
        await asyncio.gather(*tasks)
    return result


def repeated(session: Session, kind: str, ids: list[int]) -> int:
    """Work orders among ``ids`` with more than one ``kind`` event."""
    counts = session.exec(
        select(Event.entity_id, func.count())
        .where(Event.entity == "work_order", Event.kind == kind)
        .group_by(col(Event.entity_id))
    ).all()
    wanted = set(ids)
    return sum(1 for entity_id, n in counts if entity_id in wanted and n > 1)


async def counted_by_workflows(address: str, order_ids: list[int]) -> set[int]:
    """The work orders whose completion the orders' workflows counted."""
    client = await connect_temporal(address)
    counted: set[int] = set()
    for order_id in order_ids:
        handle = client.get_workflow_handle_for(
            ProductionOrderWorkflow.run, f"production-order-{order_id}"
        )
        progress: OrderProgress = await handle.query(ProductionOrderWorkflow.progress)
        counted.update(progress.completed_work_order_ids)
    return counted


async def run(
    database_url: str,
    data_dir: Path,
    pollers: int,
    work_orders: int,
    n_factories: int,
    orders: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    say("starting the platform (c2b dev) on a fresh database ...")
    with running_platform(database_url, data_dir) as stack:
        engine = make_engine(database_url)
        with Session(engine) as s:
            factories = prepare_factories(s, n_factories)
            stock_fabrics(s)  # the seed's stock covers about 50 orders; more would wait
            team = s.exec(select(BuyerTeam).where(BuyerTeam.code == "team-nova")).one()
            buyer_token = create_token(s, Role.BUYER, team.id, "bench:team-nova").token
            say(f"releasing {work_orders} work orders over {len(factories)} factories ...")
            ids = release_work_orders(s, factories, work_orders)
        buyer = {"Authorization": f"Bearer {buyer_token}"}
        with served(
            "bench.baseline:build_app", stack.env, data_dir / "baseline.log", "/openapi.json"
        ) as baseline_url:
            async with load_client(pollers) as load:
                say(f"baseline: {len(ids)} primary-key reads by {pollers} clients ...")
                base = await baseline(load, baseline_url, ids, pollers)
                say(f"claims: {pollers} pollers empty the queues ...")
                claims, claimed = await claim_everything(load, stack.api_url, factories, pollers)
                paced_rate = claims.per_s / 2
                paced_count = max(20, min(work_orders // 2, int(paced_rate * PACED_SECONDS)))
                say(f"paced claims: {paced_count} at {paced_rate:.0f}/s, half the maximum ...")
                with Session(engine) as s:
                    ids += release_work_orders(s, factories, paced_count)
                paced, paced_claims = await claim_paced(
                    load, stack.api_url, factories, paced_rate, paced_count
                )
                claimed += paced_claims
            # Completions run at Temporal's pace, not the client's: the factories' client
            # here is httpx, as the simulator's is.
            async with httpx_client(pollers) as http:
                say(f"completions: {orders} production orders through their workflows ...")
                done = await complete_orders(
                    http, stack.api_url, engine, factories, buyer, orders, pollers, timeout=900
                )
        say("checking the database and the workflows ...")
        counted = await counted_by_workflows(stack.temporal_address, done.order_ids)
        with Session(engine) as s:
            handed_out = Counter(wo_id for wo_id, _ in claimed)
            db_claimed = dict(
                s.exec(
                    select(WorkOrder.id, WorkOrder.factory_id).where(
                        col(WorkOrder.id).in_(ids), WorkOrder.status == WorkOrderStatus.CLAIMED
                    )
                ).all()
            )
            wrong_holder = sum(1 for wo_id, f in claimed if db_claimed.get(wo_id) != f)
            double_claims = (
                sum(n - 1 for n in handed_out.values()) + repeated(s, "claimed", ids) + wrong_holder
            )
            unclaimed = len(ids) - len(handed_out)
            completed = dict(
                s.exec(
                    select(WorkOrder.id, WorkOrder.good_quantity).where(
                        col(WorkOrder.id).in_(list(done.acked)),
                        WorkOrder.status == WorkOrderStatus.COMPLETED,
                    )
                ).all()
            )
            lost = sum(1 for wo_id in done.acked if wo_id not in completed or wo_id not in counted)
            double_counted = (
                repeated(s, "completed", list(done.acked))
                + done.resent_mismatches
                + sum(1 for wo_id, good in done.acked.items() if completed.get(wo_id, good) != good)
            )
            orders_finished, _ = orders_done(s, min(done.order_ids, default=1) - 1)
        engine.dispose()
    return {
        "benchmark": "factories claiming and completing work orders over HTTP",
        "database": sa.engine.make_url(database_url).get_backend_name(),
        "pollers": pollers,
        "factories": len(factories),
        "work_orders": work_orders,
        "claims": len(claimed),
        "unclaimed": unclaimed,
        "claims_per_s": round(claims.per_s, 1),
        "claim_p50_ms": round(statistics.median(claims.latencies) * 1000, 1),
        "claim_p99_ms": percentile_ms(claims.latencies, 0.99),
        "paced_claims": paced_count,
        "paced_claims_per_s": round(paced_rate, 1),
        "paced_claim_p50_ms": percentile_ms(paced, 0.5),
        "paced_claim_p99_ms": percentile_ms(paced, 0.99),
        "baseline_per_s": round(base.per_s, 1),
        "baseline_p50_ms": round(statistics.median(base.latencies) * 1000, 1),
        "baseline_p99_ms": percentile_ms(base.latencies, 0.99),
        "ratio": round(claims.per_s / base.per_s, 3) if base.per_s else 0.0,
        "completion_orders": orders,
        "completion_orders_done": orders_finished,
        "completions": len(done.acked),
        "completions_per_s": round(done.phase.per_s, 1),
        "complete_p50_ms": percentile_ms(done.phase.latencies, 0.5),
        "complete_p99_ms": percentile_ms(done.phase.latencies, 0.99),
        "resent_completions": done.resent,
        "completion_errors": done.errors[:20],
        "double_claims": double_claims,
        "lost_completions": lost,
        "double_counted": double_counted,
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def measure(
    database_url: str | None,
    pollers: int,
    work_orders: int,
    factories: int,
    orders: int,
    say: Callable[[str], None] = lambda _: None,
    out: Path | None = None,
) -> dict[str, Any]:
    """One run on a fresh database, written to bench/results/claims-<database>.json."""

    def one_run(url: str, tmp: Path) -> dict[str, Any]:
        return asyncio.run(run(url, tmp, pollers, work_orders, factories, orders, say))

    return measure_on_fresh_database("claims", database_url, one_run, say, out)
