"""Simulated factories against the real HTTP API: each polls for its work orders, claims
one, starts it, heartbeats with progress, and completes it after the planned duration
divided by ``speed``, with some defects; now and then one rejects work or vanishes without
giving it back (its lease then runs out). Used by the demo, the benchmarks and the fault tests."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx


@dataclass(frozen=True)
class SimulationConfig:
    speed: float = 600.0  # simulated seconds per real second
    defect_rate: float = 0.02  # mean share of defective pieces
    vanish_rate: float = 0.0  # chance that a claimed work order is silently abandoned
    reject_rate: float = 0.0  # chance that a claimed work order is refused
    heartbeat_seconds: float = 10.0  # real seconds between heartbeats
    poll_seconds: float = 5.0  # long-poll length of each claim
    seed: int = 7


@dataclass
class FactoryStats:
    claimed: int = 0
    completed: int = 0
    vanished: int = 0
    rejected: int = 0
    good: int = 0
    defective: int = 0
    errors: int = 0
    last: str = ""


@dataclass
class SimulatedFactory:
    code: str
    token: str
    stats: FactoryStats = field(default_factory=FactoryStats)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def defects_per_size(breakdown: dict[str, int], rate: float, rng: random.Random) -> dict[str, int]:
    """Defective pieces per size around ``rate``, never more than the size's quantity."""
    return {
        size: min(qty, round(qty * rate * rng.uniform(0.0, 2.0))) for size, qty in breakdown.items()
    }


async def work_one(
    http: httpx.AsyncClient,
    factory: SimulatedFactory,
    wo: dict[str, Any],
    cfg: SimulationConfig,
    rng: random.Random,
) -> None:
    """Start, heartbeat and complete one claimed work order (or vanish with it)."""
    base = f"/v1/factory/work-orders/{wo['id']}"
    (await http.post(f"{base}/start", headers=factory.headers)).raise_for_status()
    if rng.random() < cfg.reject_rate:
        refused = await http.post(
            f"{base}/reject",
            json={"reason": "no capacity this week (simulated)"},
            headers={**factory.headers, "Idempotency-Key": f"sim-reject-{wo['id']}"},
        )
        refused.raise_for_status()
        factory.stats.rejected += 1
        factory.stats.last = f"rejected work order {wo['id']}"
        return
    if rng.random() < cfg.vanish_rate:
        factory.stats.vanished += 1
        factory.stats.last = f"vanished with work order {wo['id']}"
        return
    planned = datetime.fromisoformat(wo["planned_end"]) - datetime.fromisoformat(
        wo["planned_start"]
    )
    duration = planned.total_seconds() / cfg.speed
    elapsed = 0.0
    while elapsed < duration:
        step = min(cfg.heartbeat_seconds, duration - elapsed)
        await asyncio.sleep(step)
        elapsed += step
        progress = int(wo["quantity"] * min(1.0, elapsed / duration)) if duration else 0
        beat = await http.post(
            f"{base}/heartbeat", json={"progress_quantity": progress}, headers=factory.headers
        )
        beat.raise_for_status()
    defective = defects_per_size(wo["size_breakdown"], cfg.defect_rate, rng)
    good = {s: q - defective[s] for s, q in wo["size_breakdown"].items()}
    body = {
        "good": [{"size": s, "quantity": q} for s, q in good.items() if q],
        "defective": [{"size": s, "quantity": q} for s, q in defective.items() if q],
    }
    if not body["good"]:  # everything defective: report one good piece less defective
        first = next(iter(good))
        body = {"good": [{"size": first, "quantity": 1}], "defective": body["defective"]}
    done = await http.post(
        f"{base}/complete",
        json=body,
        headers={**factory.headers, "Idempotency-Key": f"sim-{wo['id']}-{wo['lease_expiries']}"},
    )
    done.raise_for_status()
    result = done.json()
    factory.stats.completed += 1
    factory.stats.good += result["good_quantity"]
    factory.stats.defective += result["defective_quantity"]
    factory.stats.last = f"completed {wo['operation_kind']} of order {wo['production_order_id']}"
    if result.get("work_centre_on_hold"):
        factory.stats.last += f", its work centre {wo['work_centre_code']} is on a quality hold"


async def run_factory(
    http: httpx.AsyncClient,
    factory: SimulatedFactory,
    cfg: SimulationConfig,
    stop: Callable[[], bool],
) -> None:
    """Poll and work until ``stop()`` says so; errors are counted, not fatal."""
    rng = random.Random(f"{cfg.seed}-{factory.code}")
    while not stop():
        try:
            claim = await http.post(
                "/v1/factory/work-orders/claim",
                params={"wait": cfg.poll_seconds},
                headers=factory.headers,
            )
            if claim.status_code == 204:
                continue
            claim.raise_for_status()
            factory.stats.claimed += 1
            await work_one(http, factory, claim.json(), cfg, rng)
        except httpx.HTTPError as err:
            factory.stats.errors += 1
            factory.stats.last = f"error: {err}"
            await asyncio.sleep(1.0)
