"""Benchmark: how soon a long-polling factory gets work released while it waits, and what
the waiting costs the database. PostgreSQL wakes waiters by LISTEN/NOTIFY, SQLite by one
shared poll (api/notifier.py).

Each round: a claim long-polls for one factory while idle waiters of other factories wait
too; the worker's release activity releases a work order; the time from the release's
commit to the claim's answer is measured. The baseline in the same run is a claim that
finds its work order already released.

    .venv/bin/python -m bench.wakeup [--database-url URL] [--rounds 50] [--idle-waiters 40]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import select
from temporalio.client import Client

from activities.production import ProductionActivities
from api.deps import ApiConfig, Runtime
from api.main import create_app
from api.notifier import PollingNotifier, notifier_for
from c2b import migrate
from c2b.db import make_engine, make_session_factory
from c2b.seed import seed_demo_data
from c2b.tokens import issue_demo_tokens
from models.schemas import BatchStatus, ReleaseWorkOrderInput, WorkOrderStatus
from models.stats import percentile
from models.tables import BuyerTeam, DemandBatch, ProductionOrder, WorkCentre, WorkOrder

RESULTS = Path(__file__).parent / "results"


async def no_temporal() -> Client:
    raise RuntimeError("claims do not need Temporal")


async def run(url: str, rounds: int, idle_waiters: int) -> dict[str, Any]:
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with sessions() as s:
        seed_demo_data(s)
        tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(s)}
        team = s.exec(select(BuyerTeam).where(BuyerTeam.code == "team-nova")).one()
        centre = s.exec(select(WorkCentre).where(WorkCentre.code == "GZ-CUT-1")).one()
        batch = DemandBatch(team_id=team.id or 0, status=BatchStatus.DONE)
        s.add(batch)
        s.flush()
        order = ProductionOrder(
            batch_id=batch.id or 0,
            team_id=team.id or 0,
            style_code="TS-CREW",
            colour="white",
            size_breakdown={"M": 10},
            quantity=10,
        )
        s.add(order)
        s.commit()

    attempts = itertools.count(1)  # one order, many work orders: distinct attempts

    def new_work_order(status: WorkOrderStatus) -> int:
        with sessions() as s:
            now = datetime.now(UTC)
            wo = WorkOrder(
                production_order_id=order.id or 0,
                seq=1,
                attempt=next(attempts),
                operation_kind="cut",
                factory_id=centre.factory_id,
                work_centre_id=centre.id or 0,
                quantity=10,
                size_breakdown={"M": 10},
                planned_start=now,
                planned_end=now,
                status=status,
            )
            s.add(wo)
            s.commit()
            return wo.id or 0

    runtime = Runtime(
        session_factory=sessions,
        connect_temporal=no_temporal,
        config=ApiConfig(orchestration_task_queue="unused"),
        notifier=notifier_for(url, sessions),
    )
    await runtime.notifier.start()
    app = create_app(runtime)
    release = ProductionActivities(sessions).release_work_order
    gz = {"Authorization": f"Bearer {tokens['GZ-KNIT']}"}
    idle = [{"Authorization": f"Bearer {tokens[c]}"} for c in ("NB-WOVEN", "DH-DENIM")]
    woken: list[float] = []
    immediate: list[float] = []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://b", timeout=60
    ) as http:
        await asyncio.sleep(1.0)  # let LISTEN connect
        idlers = [
            asyncio.create_task(
                http.post(
                    "/v1/factory/work-orders/claim", params={"wait": 600}, headers=idle[i % 2]
                )
            )
            for i in range(idle_waiters)
        ]
        queries_before = getattr(runtime.notifier, "queries", 0)
        started = time.perf_counter()
        for _ in range(rounds):
            new_work_order(WorkOrderStatus.RELEASED)
            t0 = time.perf_counter()
            r = await http.post("/v1/factory/work-orders/claim", headers=gz)
            immediate.append(time.perf_counter() - t0)
            assert r.status_code == 200, r.text

            wo_id = new_work_order(WorkOrderStatus.PLANNED)
            waiting = asyncio.create_task(
                http.post("/v1/factory/work-orders/claim", params={"wait": 30}, headers=gz)
            )
            await asyncio.sleep(0.3)
            await asyncio.to_thread(release, ReleaseWorkOrderInput(work_order_id=wo_id))
            t0 = time.perf_counter()
            r = await waiting
            woken.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["id"] == wo_id, r.text
        elapsed = time.perf_counter() - started
        polls = getattr(runtime.notifier, "queries", 0) - queries_before
        for task in idlers:
            task.cancel()
        await asyncio.gather(*idlers, return_exceptions=True)
    await runtime.notifier.stop()
    engine.dispose()
    backend = sa.engine.make_url(url).get_backend_name()
    return {
        "benchmark": "wake-up of a long-polling claim when work is released",
        "database": backend,
        "mechanism": "shared poll"
        if isinstance(runtime.notifier, PollingNotifier)
        else "LISTEN/NOTIFY",
        "rounds": rounds,
        "idle_waiters": idle_waiters,
        "wakeup_p50_ms": round(statistics.median(woken) * 1000, 1),
        "wakeup_p99_ms": round(percentile(woken, 0.99) * 1000, 1),
        "immediate_claim_p50_ms": round(statistics.median(immediate) * 1000, 1),
        "ratio_p50": round(statistics.median(woken) / statistics.median(immediate), 1),
        "waiting_polls_per_s": round(polls / elapsed, 1),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Wake-up latency of long-polling claims.")
    parser.add_argument("--database-url", default=None, help="Default: a fresh SQLite file.")
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--idle-waiters", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/wakeup.db"
        result = asyncio.run(run(url, args.rounds, args.idle_waiters))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"wakeup-{result['database']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))  # noqa: T201 - a benchmark's report is its output


if __name__ == "__main__":
    main()
