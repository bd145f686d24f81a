"""Simulated factories drive the walking skeleton's order to done through the real API."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from sqlmodel import select

from c2b.simulator import SimulatedFactory, SimulationConfig, defects_per_size, run_factory
from models.schemas import WorkOrderStatus
from models.tables import Event, WorkOrder
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, submit_and_pick


def test_defects_stay_within_each_sizes_quantity() -> None:
    rng = random.Random(1)
    for _ in range(200):
        breakdown = {"S": rng.randint(0, 5), "M": rng.randint(0, 50)}
        defects = defects_per_size(breakdown, rate=0.5, rng=rng)
        assert all(0 <= defects[s] <= q for s, q in breakdown.items())


async def test_simulated_factories_take_an_order_from_release_to_shipped(
    platform: Platform,
) -> None:
    http, buyer = platform.http, platform.auth("team-nova")
    batch_id = await submit_and_pick(platform, quantity=150)
    factories = [
        SimulatedFactory(code, platform.tokens[code])
        for code in ("GZ-KNIT", "NB-WOVEN", "DH-DENIM")
    ]
    # 20 h of planned work in well under a second per operation.
    cfg = SimulationConfig(
        speed=500_000, defect_rate=0.05, heartbeat_seconds=0.05, poll_seconds=0.5
    )
    done = False
    tasks = [asyncio.create_task(run_factory(http, f, cfg, lambda: done)) for f in factories]

    async def order_done() -> Any:
        r = await http.get(f"/v1/demand-batches/{batch_id}", headers=buyer)
        return r.json()["lines_by_status"]["shipped"] == 1

    try:
        await eventually(order_done, timeout=60)
    finally:
        done = True
        await asyncio.gather(*tasks)

    stats = [f.stats for f in factories]
    assert sum(s.errors for s in stats) == 0
    assert sum(s.defective for s in stats) > 0  # 5% of 150 pieces, three times
    with platform.session_factory() as s:
        work_orders = s.exec(select(WorkOrder)).all()
        kinds = [e.kind for e in s.exec(select(Event).where(Event.entity == "work_order"))]
        accepted = {e.kind for e in s.exec(select(Event).where(Event.entity == "production_order"))}
    # Three operations, each with the recuts or reworks its defects called for.
    assert {w.seq for w in work_orders} == {1, 2, 3} and len(work_orders) > 3
    assert all(w.status == WorkOrderStatus.COMPLETED for w in work_orders)
    assert sum(x.completed for x in stats) == len(work_orders) == kinds.count("completed")
    for seq in (1, 2, 3):
        made = sum(w.good_quantity or 0 for w in work_orders if w.seq == seq)
        assert made == 150 or f"shortfall_accepted:{seq}" in accepted
