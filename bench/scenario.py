"""A what-if scenario on a live plan of N open production orders, through the running
platform (``c2b dev``: API, worker, solver worker, Temporal dev server).

The plan is built as the platform builds it: ten factories (the three seeded ones and
seven more of the same kind: a cutting room, a print table, three sewing lines, a
finishing room), N production orders of the seeded styles (100-300 pieces, due in 3-30
days), each placed into the live plan by the production activities' own earliest-free-slot
placement. Then a planner asks what happens if one factory is down for two days:
``POST /v1/scenarios``, polled at 5 Hz until it ends.

Measured: when the first plan is there (``first_result_s``, from the request), the longest
wait between two progress updates (``max_progress_gap_s``), and the final gap. The
baseline of the same run: building the same problem and its greedy plan in-process,
without Temporal, the API or the database round trips of progress
(``direct_first_plan_s``).

Then, as on a busy day, ``--placed-since`` more orders are placed into the live plan after
the scenario's snapshot, and the planner applies it (``POST .../apply``): whether it
applied over them (``apply_status``), how long the apply took (``apply_s``), the
operations it kept as placed (``operations_kept``), and the apply against the mean
placement of one order in the same run (``apply_vs_one_placement``).

    c2b bench scenario --orders 1000 [--time-limit 60] [--placed-since 20] [--seed 1] [--json]
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, col, select

from activities.production import ProductionActivities
from activities.scenarios import build_problem, read_snapshot
from bench.stack import measure_on_fresh_database, running_platform
from c2b.db import SessionFactory, make_engine, make_session_factory
from c2b.seed import DAY_SHIFT, LATE_SHIFT
from c2b.tokens import create_token
from models.scenarios import FactoryDownEdit
from models.schemas import BatchStatus, ProductionOrderInput, ProductionOrderStatus, Role
from models.tables import (
    BuyerTeam,
    DemandBatch,
    Factory,
    ProductionOrder,
    RoutingStep,
    Style,
    WorkCentre,
)
from optimizer.greedy import best_dispatch
from optimizer.problem import Params

FACTORIES = 10
# code suffix, operation kinds, efficiency
BENCH_CENTRES = [
    ("CUT", ["cut"], 0.8),
    ("PRT", ["print", "embroider"], 0.75),
    ("SEW-1", ["sew"], 0.65),
    ("SEW-2", ["sew"], 0.6),
    ("SEW-3", ["sew"], 0.62),
    ("FIN", ["finish"], 0.8),
]


def add_factories(session: Session, total: int) -> None:
    """Bench factories beside the seeded ones, up to ``total``: like the seeded ones, in
    Guangzhou's time zone, every other one on two shifts and the rest on one, six days a
    week (APPAREL-DATA.md: 8-10 hour shifts, six days)."""
    have = len(session.exec(select(Factory)).all())
    for n in range(have + 1, total + 1):
        factory = Factory(
            code=f"BF-{n:02d}",
            name=f"Bench factory {n}",
            timezone="Asia/Shanghai",
            shifts=[DAY_SHIFT, LATE_SHIFT] if n % 2 else [DAY_SHIFT],
        )
        session.add(factory)
        session.flush()
        for suffix, kinds, efficiency in BENCH_CENTRES:
            session.add(
                WorkCentre(
                    factory_id=factory.id or 0,
                    code=f"BF-{n:02d}-{suffix}",
                    name=f"Bench {suffix}",
                    operation_kinds=kinds,
                    efficiency=efficiency,
                    cost_per_minute=0.3,
                )
            )
    session.commit()


def add_orders(session: Session, orders: int, rng: random.Random) -> list[int]:
    """``orders`` production orders of the seeded styles with a routing the factories can
    make, without workflows (the benchmark is about the plan, not the orders' lives)."""
    team = session.exec(select(BuyerTeam).order_by(col(BuyerTeam.id))).first()
    assert team is not None, "the seed has buyer teams"
    kinds = {k for wc in session.exec(select(WorkCentre)).all() for k in wc.operation_kinds}
    styles = []
    for style in session.exec(select(Style).order_by(col(Style.code))).all():
        steps = session.exec(select(RoutingStep).where(RoutingStep.style_id == style.id)).all()
        if steps and all(s.operation_kind in kinds for s in steps):
            styles.append(style)
    batch = DemandBatch(team_id=team.id or 0, status=BatchStatus.DONE)
    session.add(batch)
    session.flush()
    today = datetime.now(UTC).date()
    ids = []
    for n in range(orders):
        style = rng.choice(styles)
        quantity = rng.randint(100, 300)
        order = ProductionOrder(
            batch_id=batch.id or 0,
            team_id=team.id or 0,
            style_code=style.code,
            colour=f"{rng.choice(style.colours)}-{n}",
            size_breakdown={"M": quantity},
            quantity=quantity,
            due_date=today + timedelta(days=rng.randint(3, 60)),
            priority=rng.randint(1, 3),
            status=ProductionOrderStatus.FABRIC_RESERVED,
            workflow_id=f"bench-no-workflow-{n}",
        )
        session.add(order)
        session.flush()
        ids.append(order.id or 0)
    session.commit()
    return ids


def place_live_plan(sessions: SessionFactory, orders: int, rng: random.Random) -> None:
    """``FACTORIES`` factories and ``orders`` production orders, each placed into the live
    plan by the production activities' own placement, as the platform places them."""
    with sessions() as s:
        add_factories(s, FACTORIES)
    place_orders(sessions, orders, rng)


def place_orders(sessions: SessionFactory, orders: int, rng: random.Random) -> float:
    """``orders`` more production orders placed into the live plan; the mean seconds a
    placement took."""
    with sessions() as s:
        ids = add_orders(s, orders, rng)
    production = ProductionActivities(sessions)
    started = time.perf_counter()
    for order_id in ids:
        production.schedule_order(ProductionOrderInput(production_order_id=order_id))
    return (time.perf_counter() - started) / max(1, len(ids))


def direct_first_plan(database_url: str, edit: FactoryDownEdit) -> float:
    """The baseline: seconds to read the same snapshot, build the problem and dispatch it
    greedily, in-process."""
    engine = make_engine(database_url)
    started = time.perf_counter()
    with Session(engine) as session:
        snapshot = read_snapshot(session, datetime.now(UTC).replace(second=0, microsecond=0))
    built = build_problem(snapshot, [edit])
    best_dispatch(built.problem, Params())
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def run(
    database_url: str,
    data_dir: Path,
    orders: int,
    time_limit: float,
    seed: int,
    say: Callable[[str], None],
    placed_since: int = 20,
) -> dict[str, Any]:
    rng = random.Random(seed)
    say("starting the platform (c2b dev) on a fresh database ...")
    with running_platform(database_url, data_dir) as stack:
        engine = make_engine(database_url)
        say(f"placing {orders} orders into the live plan ...")
        place_live_plan(make_session_factory(engine), orders, rng)
        with Session(engine) as s:
            planner = create_token(s, Role.PLANNER, None, "bench:planner").token
            s.commit()
            down = s.exec(select(Factory.code).order_by(col(Factory.id))).first()
            assert down is not None
            operations = s.execute(sa.text("SELECT count(*) FROM plan_assignment")).scalar_one()
        now = datetime.now(UTC)
        edit = FactoryDownEdit(factory=down, start=now, end=now + timedelta(days=2))
        direct = direct_first_plan(database_url, edit)
        say(f"  {operations} operations; greedy plan in-process: {direct:.2f} s")

        say(f"scenario: {down} down for two days, {time_limit:.0f} s to solve ...")
        headers = {"Authorization": f"Bearer {planner}"}
        with httpx.Client(base_url=stack.api_url, headers=headers, timeout=60) as http:
            body = {
                "name": f"{down} down for two days",
                "edits": [edit.model_dump(mode="json")],
                "time_limit_s": time_limit,
            }
            started = time.monotonic()
            r = http.post("/v1/scenarios", json=body)
            r.raise_for_status()
            path = f"/v1/scenarios/{r.json()['id']}"
            first_result: float | None = None
            seen: list[float] = []  # when (since the request) each new progress was seen
            last_at = None
            while True:
                scenario = http.get(path).json()
                elapsed = time.monotonic() - started
                progress = scenario.get("progress") or {}
                if progress.get("at") and progress["at"] != last_at:
                    last_at = progress["at"]
                    seen.append(elapsed)
                if first_result is None and progress.get("objective") is not None:
                    first_result = elapsed
                if scenario["status"] not in ("queued", "solving"):
                    break
                time.sleep(0.2)
            done = time.monotonic() - started
            say(f"placing {placed_since} more orders since the scenario's snapshot ...")
            one_placement = place_orders(make_session_factory(engine), placed_since, rng)
            say("applying the scenario over them ...")
            started = time.monotonic()
            applied = http.post(f"{path}/apply")
            apply_s = time.monotonic() - started
        engine.dispose()
    if first_result is None and scenario.get("kpis"):
        first_result = done
    gaps = [b - a for a, b in zip(seen, seen[1:], strict=False)]
    kpis = scenario.get("kpis") or {}
    greedy = scenario.get("greedy_kpis") or {}
    return {
        "benchmark": "a what-if scenario on the live plan through the API and Temporal",
        "database": sa.engine.make_url(database_url).get_backend_name(),
        "orders": orders,
        "operations": operations,
        "factories": FACTORIES,
        "time_limit_s": time_limit,
        "status": scenario["status"],
        "first_result_s": round(first_result, 2) if first_result is not None else None,
        "progress_updates": len(seen),
        "max_progress_gap_s": round(max(gaps), 2) if gaps else None,
        "request_to_done_s": round(done, 2),
        "final_gap": kpis.get("gap"),
        "objective": kpis.get("objective"),
        "greedy_objective": greedy.get("objective"),
        "objective_vs_greedy": (
            round(kpis["objective"] / greedy["objective"], 4)
            if kpis.get("objective") is not None and greedy.get("objective")
            else None
        ),
        "direct_first_plan_s": round(direct, 3),
        "first_result_vs_direct": (
            round(first_result / direct, 2) if first_result is not None and direct else None
        ),
        "operations_moved": (scenario.get("diff") or {}).get("operations_moved"),
        "placed_since": placed_since,
        "apply_status": applied.status_code,
        "apply_detail": None if applied.status_code == 200 else applied.json().get("detail"),
        "apply_s": round(apply_s, 3),
        "operations_kept": applied.json().get("operations_kept"),
        "orders_placed_again": len(applied.json().get("orders_placed_again") or []),
        "one_placement_s": round(one_placement, 4),
        "apply_vs_one_placement": round(apply_s / one_placement, 1) if one_placement else None,
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seed": seed,
        "today": date.today().isoformat(),
    }


def measure(
    database_url: str | None,
    orders: int,
    time_limit: float,
    seed: int,
    say: Callable[[str], None] = lambda _: None,
    out: Path | None = None,
    placed_since: int = 20,
) -> dict[str, Any]:
    """One run on a fresh database, written to bench/results/scenario-<database>.json."""

    def one_run(url: str, tmp: Path) -> dict[str, Any]:
        return run(url, tmp, orders, time_limit, seed, say, placed_since)

    return measure_on_fresh_database("scenario", database_url, one_run, say, out)
