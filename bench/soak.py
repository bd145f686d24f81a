"""Benchmark: the soak. A steady mixed load on the embedded stack (``c2b dev``: Temporal dev
server, worker, solver, API) for ``--minutes``, on loopback:

- intake: a buyer team submits a one-line batch every ``1/--intake-rate`` seconds and
  picks it as soon as its pick window opens (so every batch becomes production);
- factories: ``--pollers`` pollers per factory claim (long-poll of 1 s), work on what they
  got for ``--work-seconds`` and complete it; the work is what keeps a few dozen orders
  open in the live plan, so that the planner's scenarios have a plan to solve (with work
  completed at once the plan was empty nearly always, and most scenarios failed with
  "no open orders to plan");
- reads: the buyer looks at its batch and its production order;
- planning: a planner runs a what-if scenario (a factory down for a day, 5 s of solving)
  every ``--scenario-every`` seconds and reads it until it is done.

Measured: every request's latency and answer by endpoint (p50, p99, errors: a 5xx, a lost
connection or an answer the client did not expect), and the resident memory of every
process of the stack, sampled every 10 s: at the start of the measured time (after the
warm-up), at its end, and its highest. In the same run, the baseline: a bare FastAPI
route (bench/baseline.py) on the same database, read at a low steady rate, whose p99 the
endpoints' p99s are divided by (``p99_vs_bare``).

    c2b bench soak [--minutes 10] [--intake-rate 1] [--scenario-every 60]
                   [--pollers 8] [--work-seconds 2] [--json]
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, select

from bench.claims import httpx_client
from bench.orchestration import stock_and_sign_in
from bench.stack import measure_on_fresh_database, running_platform, served, stack_processes
from c2b.db import make_engine
from models.stats import percentile
from models.tables import WorkOrder

WARM_UP_S = 30.0
SAMPLE_EVERY_S = 10.0
# Nearly every crew-tee order is placed at one factory, whose pollers must outpace three
# work orders a second (at 1 batch/s): 8 pollers working 2 s each can do 4.
POLLERS_PER_FACTORY = 8
WORK_S = 2.0
BARE = "bare GET /work-orders/{id}"
CLAIM = "POST /v1/factory/work-orders/claim"
CLAIM_WAITED = f"{CLAIM} (nothing within 1 s)"


@dataclass
class Load:
    """What the clients saw."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: defaultdict(list))
    shipped_batches: int = 0
    # How the planner's scenarios ended: done, failed or cancelled.
    scenarios: Counter[str] = field(default_factory=Counter)
    measuring_from: float = 0.0

    async def call(
        self,
        endpoint: str,
        http: httpx.AsyncClient,
        method: str,
        url: str,
        expected: tuple[int, ...] = (200,),
        filed_as: Callable[[httpx.Response], str] | None = None,
        **kw: Any,
    ) -> httpx.Response | None:
        """One request, timed under ``endpoint`` (or under what ``filed_as`` names for its
        answer); an unexpected answer is an error."""
        started = time.perf_counter()
        try:
            response = await http.request(method, url, **kw)
        except httpx.HTTPError as err:
            self.errors[endpoint].append(f"{err!r}"[:200])
            return None
        if time.monotonic() >= self.measuring_from:
            name = filed_as(response) if filed_as is not None else endpoint
            self.latencies[name].append(time.perf_counter() - started)
        if response.status_code not in expected:
            self.errors[endpoint].append(f"{response.status_code} {response.text[:200]}")
            return None
        return response


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def sample_memory(processes: dict[str, int], load: Load, stop: asyncio.Event) -> None:
    while not stop.is_set():
        now = time.monotonic()
        for name, pid in processes.items():
            with contextlib.suppress(OSError):
                load.rss[name].append((now, rss_kb(pid)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=SAMPLE_EVERY_S)


async def buyer(
    http: httpx.AsyncClient,
    api: str,
    headers: dict[str, str],
    rate: float,
    load: Load,
    stop: asyncio.Event,
) -> None:
    """A batch every 1/rate s, each followed through its pick on a task of its own."""
    i = 0
    pending: set[asyncio.Task[None]] = set()

    async def follow(batch_id: int) -> None:
        batch = f"{api}/v1/demand-batches/{batch_id}"
        while not stop.is_set():
            r = await load.call("GET /v1/demand-batches/{id}", http, "GET", batch, headers=headers)
            if r is not None and r.json()["status"] == "picking":
                break
            await asyncio.sleep(0.5)
        pick = {"picks": [{"style": "TS-CREW", "colour": "white"}], "close_window": True}
        picks = f"{batch}/picks"
        await load.call(
            "POST /v1/demand-batches/{id}/picks", http, "POST", picks, json=pick, headers=headers
        )
        while not stop.is_set():
            await asyncio.sleep(2.0)
            r = await load.call("GET /v1/demand-batches/{id}", http, "GET", batch, headers=headers)
            orders = r.json().get("production_orders") if r is not None else None
            if not orders:
                continue
            order_url = f"{api}/v1/production-orders/{orders[0]['id']}"
            o = await load.call(
                "GET /v1/production-orders/{id}", http, "GET", order_url, headers=headers
            )
            if o is not None and o.json()["status"] == "done":
                load.shipped_batches += 1
                return

    while not stop.is_set():
        need_by = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
        body = {
            "lines": [
                {
                    "customer_ref": f"SOAK-{i}",
                    "style": "TS-CREW",
                    "colour": "white",
                    "size": ["S", "M", "L"][i % 3],
                    "quantity": 100,
                    "need_by": need_by,
                    "channel": "web",
                    "region": "EU",
                }
            ]
        }
        key = {**headers, "Idempotency-Key": f"soak-{i}"}
        r = await load.call(
            "POST /v1/demand-batches",
            http,
            "POST",
            f"{api}/v1/demand-batches",
            expected=(200, 201),
            json=body,
            headers=key,
        )
        if r is not None:
            task = asyncio.create_task(follow(r.json()["batch_id"]))
            pending.add(task)
            task.add_done_callback(pending.discard)
        i += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1 / rate)
    await asyncio.gather(*pending, return_exceptions=True)


async def factory(
    http: httpx.AsyncClient,
    api: str,
    headers: dict[str, str],
    work_s: float,
    load: Load,
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        r = await load.call(
            CLAIM,
            http,
            "POST",
            f"{api}/v1/factory/work-orders/claim",
            expected=(200, 204),
            # Nothing within the long-poll's second is a wait, not a latency.
            filed_as=lambda answer: CLAIM if answer.status_code == 200 else CLAIM_WAITED,
            params={"wait": 1},
            headers=headers,
        )
        if r is None:
            await asyncio.sleep(0.5)
            continue
        if r.status_code == 204:
            continue
        wo = r.json()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=work_s)  # on the floor
        body = {"good": [{"size": s, "quantity": q} for s, q in wo["size_breakdown"].items()]}
        done = f"{api}/v1/factory/work-orders/{wo['id']}/complete"
        key = {**headers, "Idempotency-Key": f"soak-{wo['id']}"}
        await load.call(
            "POST /v1/factory/work-orders/{id}/complete", http, "POST", done, json=body, headers=key
        )


async def planner(
    http: httpx.AsyncClient,
    api: str,
    headers: dict[str, str],
    every_s: float,
    factories: list[str],
    load: Load,
    stop: asyncio.Event,
    rng: random.Random,
) -> None:
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        if stop.is_set():
            return
        start = datetime.now(UTC)
        edit = {
            "kind": "factory_down",
            "factory": rng.choice(factories),
            "start": start.isoformat(),
            "end": (start + timedelta(days=1)).isoformat(),
        }
        body = {"name": "soak: a factory down", "edits": [edit], "time_limit_s": 5}
        r = await load.call(
            "POST /v1/scenarios",
            http,
            "POST",
            f"{api}/v1/scenarios",
            expected=(202,),
            json=body,
            headers=headers,
        )
        if r is None or r.status_code != 202:
            continue
        url = f"{api}/v1/scenarios/{r.json()['id']}"
        while not stop.is_set():
            await asyncio.sleep(1.0)
            s = await load.call("GET /v1/scenarios/{id}", http, "GET", url, headers=headers)
            if s is not None and s.json()["status"] in ("done", "failed", "cancelled"):
                load.scenarios[s.json()["status"]] += 1
                break


async def bare(
    http: httpx.AsyncClient, url: str, wo_id: int, load: Load, stop: asyncio.Event
) -> None:
    """The baseline: the bare route, 10 reads a second."""
    read = f"{url}/work-orders/{wo_id}"
    while not stop.is_set():
        await load.call(BARE, http, "GET", read, expected=(200, 404))
        await asyncio.sleep(0.1)


def summary(load: Load, minutes: float) -> dict[str, Any]:
    endpoints = {}
    bare_p99 = percentile(load.latencies.get(BARE, [0.0]), 0.99)
    for name in sorted(set(load.latencies) | set(load.errors)):
        samples = load.latencies.get(name, [])
        p99 = percentile(samples, 0.99) if samples else 0.0
        endpoints[name] = {
            "requests": len(samples),
            "errors": len(load.errors.get(name, [])),
            "p50_ms": round(statistics.median(samples) * 1000, 1) if samples else 0.0,
            "p99_ms": round(p99 * 1000, 1),
            "p99_vs_bare": round(p99 / bare_p99, 1) if bare_p99 else None,
        }
    memory = {}
    for process, kept in sorted(load.rss.items()):
        after = [kb for at, kb in kept if at >= load.measuring_from]
        measured = after or [kb for _, kb in kept]
        start, end = measured[0], measured[-1]
        # One sample a minute of the measured time, to tell growth that levels off from
        # growth that goes on.
        first = next((at for at, _ in kept if at >= load.measuring_from), kept[0][0])
        per_minute: dict[int, int] = {}
        for at, kb in kept:
            if at >= first:
                per_minute.setdefault(int((at - first) // 60), kb)
        memory[process] = {
            "start_mb": round(start / 1024, 1),
            "end_mb": round(end / 1024, 1),
            "max_mb": round(max(measured) / 1024, 1),
            "growth_pct": round((end - start) / start * 100, 1) if start else 0.0,
            "per_minute_mb": [round(kb / 1024, 1) for _, kb in sorted(per_minute.items())],
        }
    requests = sum(len(v) for n, v in load.latencies.items() if n != BARE)
    errors = sum(len(v) for n, v in load.errors.items() if n != BARE)
    return {
        "minutes": minutes,
        "requests": requests,
        "errors": errors,
        "error_rate": round(errors / requests, 5) if requests else 0.0,
        "batches_shipped": load.shipped_batches,
        "scenarios_run": sum(load.scenarios.values()),
        "scenarios_by_status": dict(load.scenarios),
        "endpoints": endpoints,
        "rss": memory,
        "error_samples": {n: e[:3] for n, e in load.errors.items()},
    }


async def run(
    database_url: str,
    data_dir: Path,
    minutes: float,
    intake_rate: float,
    scenario_every_s: float,
    seed: int,
    warm_up_s: float,
    pollers: int,
    work_s: float,
    say: Callable[[str], None],
) -> dict[str, Any]:
    say("starting the platform (c2b dev) on a fresh database ...")
    with running_platform(database_url, data_dir) as stack:
        engine = make_engine(database_url)
        with Session(engine) as s:
            clients = stock_and_sign_in(s, "soak", metres=10_000_000.0)
            any_wo = s.exec(select(WorkOrder.id)).first() or 1
        buyer_headers, planner_headers = clients.buyer, clients.planner
        factory_headers = list(clients.factories.values())
        codes = list(clients.factories)
        processes = stack_processes(stack.pid)
        say(f"processes: {', '.join(f'{n} ({p})' for n, p in sorted(processes.items()))}")
        load = Load(measuring_from=time.monotonic() + warm_up_s)
        stop = asyncio.Event()
        with served(
            "bench.baseline:build_app", stack.env, data_dir / "baseline.log", "/docs"
        ) as bare_url:
            async with (
                httpx_client(len(factory_headers) * pollers + 2) as fhttp,
                httpx_client(64) as bhttp,
            ):
                tasks = [
                    asyncio.create_task(sample_memory(processes, load, stop)),
                    asyncio.create_task(
                        buyer(bhttp, stack.api_url, buyer_headers, intake_rate, load, stop)
                    ),
                    asyncio.create_task(
                        planner(
                            bhttp,
                            stack.api_url,
                            planner_headers,
                            scenario_every_s,
                            codes,
                            load,
                            stop,
                            random.Random(seed),
                        )
                    ),
                    asyncio.create_task(bare(bhttp, bare_url, any_wo, load, stop)),
                ]
                tasks += [
                    asyncio.create_task(factory(fhttp, stack.api_url, h, work_s, load, stop))
                    for h in factory_headers
                    for _ in range(pollers)
                ]
                total_s = warm_up_s + minutes * 60
                started = time.monotonic()
                while time.monotonic() - started < total_s:
                    await asyncio.sleep(min(30.0, total_s - (time.monotonic() - started)))
                    done = sum(len(v) for v in load.latencies.values())
                    errs = sum(len(v) for v in load.errors.values())
                    elapsed = time.monotonic() - started
                    say(f"  {elapsed:.0f} s: {done} requests, {errs} errors")
                # One last memory sample at the very end of the measured time.
                for name, pid in processes.items():
                    with contextlib.suppress(OSError):
                        load.rss[name].append((time.monotonic(), rss_kb(pid)))
                stop.set()
                await asyncio.gather(*tasks, return_exceptions=True)
        engine.dispose()
    return {
        "benchmark": "a steady mixed load on the embedded stack",
        "database": sa.engine.make_url(database_url).get_backend_name(),
        **summary(load, minutes),
        "intake_per_s": intake_rate,
        "scenario_every_s": scenario_every_s,
        "pollers_per_factory": pollers,
        "work_s": work_s,
        "warm_up_s": warm_up_s,
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def measure(
    database_url: str | None,
    minutes: float,
    intake_rate: float,
    scenario_every_s: float,
    seed: int,
    warm_up_s: float = WARM_UP_S,
    say: Callable[[str], None] = lambda _: None,
    out: Path | None = None,
    pollers: int = POLLERS_PER_FACTORY,
    work_s: float = WORK_S,
) -> dict[str, Any]:
    """One soak on a fresh database, written to bench/results/soak-<database>.json."""

    def one_run(url: str, tmp: Path) -> dict[str, Any]:
        return asyncio.run(
            run(
                url,
                tmp,
                minutes,
                intake_rate,
                scenario_every_s,
                seed,
                warm_up_s,
                pollers,
                work_s,
                say,
            )
        )

    return measure_on_fresh_database("soak", database_url, one_run, say, out)
