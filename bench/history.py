"""The live plan's reads as history builds up beside them.

Every order ever planned leaves slots behind: in the plans a scenario's apply superseded
and, until 2026-12-01, in the live plan itself, where a shipped order's slots stayed
until a planner next applied a scenario (weeks of history on a busy platform). Four reads
go through the live plan on the platform's hot paths, and none needs that history:

- ``placement``: the slots still ahead, read by every placement of an order
  (``activities.production._busy_minutes``);
- ``scenario_snapshot``: the open orders' slots a scenario starts from
  (``activities.scenarios.live_slots``);
- ``order_lists``: the planned finish of every open order, for the order lists and
  their ``late`` filter (``api.planned.planned_finishes``);
- ``planner_page``: the open orders' bars on the planning page
  (``api.routers.planner_page.live_plan``).

The run seeds the demo master data into a fresh database, puts ``--open`` open orders
with three slots each ahead of now into the live plan, then adds closed (shipped) orders
with three past slots each, in steps up to each ``--closed`` size, into a superseded
plan (``--closed-in superseded``, as the platform now leaves them) or into the live plan
(``--closed-in live``, as it did before), and times every read at each size: the median
of ``--repeat`` calls, each in a new session as an API request or an activity would
have. The baseline of the same run: a primary-key read of one order in a new session.
PostgreSQL is ANALYZEd after each step, as its autovacuum would; SQLite is not, as
nothing runs ANALYZE on the embedded database.

    c2b bench history [--closed 0,10000,100000] [--open 300] [--closed-in superseded]
                      [--repeat 15] [--json]
"""

from __future__ import annotations

import os
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from activities.production import _busy_minutes
from activities.scenarios import live_slots
from api.planned import planned_finishes
from api.routers.planner_page import live_plan
from bench.stack import measure_on_fresh_database
from c2b import migrate
from c2b.db import make_engine
from c2b.seed import seed_demo_data
from models.schemas import BatchStatus, PlanStatus, ProductionOrderStatus
from models.tables import (
    BuyerTeam,
    DemandBatch,
    Plan,
    PlanAssignment,
    ProductionOrder,
    Style,
    WorkCentre,
)

SLOTS_PER_ORDER = 3
CHUNK = 5_000


class History:
    """Inserts orders and their plan slots as the platform leaves them: open orders' slots
    in the live plan, closed ones' in ``closed_in``: ``"superseded"`` (a plan the live
    one replaced, as now that shipping takes an order's slots out of the live plan) or
    ``"live"`` (as before: they stayed there until a scenario was applied)."""

    def __init__(self, engine: sa.Engine, seed: int, closed_in: str = "superseded") -> None:
        self.engine, self.rng = engine, random.Random(seed)
        self.now = datetime.now(UTC).replace(microsecond=0)
        with Session(engine) as s:
            self.team_id = s.exec(select(BuyerTeam.id)).first() or 0
            live = s.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
            self.plan_id = self.closed_plan_id = live.id or 0
            if closed_in == "superseded":
                earlier = Plan(
                    version=live.version - 1, status=PlanStatus.SUPERSEDED, source="history"
                )
                s.add(earlier)
                s.commit()
                self.closed_plan_id = earlier.id or 0
            self.centres = [wc or 0 for wc in s.exec(select(WorkCentre.id)).all()]
            # One order per style-colour in a batch (an order's key within its batch).
            self.kinds = [(st.code, c) for st in s.exec(select(Style)).all() for c in st.colours]

    def add(self, n: int, status: ProductionOrderStatus) -> None:
        """``n`` orders of ``status``: a done one's slots lie in the last 60 days, an open
        one's ahead of now."""
        for first in range(0, n, CHUNK):
            count = min(CHUNK, n - first)
            with self.engine.begin() as conn:
                ids = self._orders(conn, count, status)
                conn.execute(
                    sa.insert(PlanAssignment),
                    [slot for order_id in ids for slot in self._slots(order_id, status)],
                )

    def _orders(self, conn: sa.Connection, count: int, status: ProductionOrderStatus) -> list[int]:
        per_batch = len(self.kinds)
        batch_ids = []
        for _ in range(-(-count // per_batch)):
            batch_ids.append(
                conn.execute(
                    sa.insert(DemandBatch)
                    .values(
                        team_id=self.team_id,
                        status=BatchStatus.DONE,
                        line_count=1,
                        rejected_lines=[],
                        created_at=self.now - timedelta(days=61),
                    )
                    .returning(col(DemandBatch.id))
                ).scalar_one()
            )
        done = status == ProductionOrderStatus.DONE
        rows = [
            {
                "batch_id": batch_ids[i // per_batch],
                "team_id": self.team_id,
                "style_code": self.kinds[i % per_batch][0],
                "colour": self.kinds[i % per_batch][1],
                "size_breakdown": {"M": 100},
                "quantity": 100,
                "status": status,
                "good_quantity": 100 if done else 0,
                "created_at": self.now - timedelta(days=61),
                "completed_at": self.now - timedelta(days=1) if done else None,
            }
            for i in range(count)
        ]
        inserted = conn.execute(sa.insert(ProductionOrder).returning(col(ProductionOrder.id)), rows)
        return [order_id or 0 for order_id in inserted.scalars()]

    def _slots(self, order_id: int, status: ProductionOrderStatus) -> list[dict[str, Any]]:
        done = status == ProductionOrderStatus.DONE
        if done:
            start = self.now - timedelta(minutes=self.rng.randrange(2 * 60, 60 * 24 * 60))
        else:
            start = self.now + timedelta(minutes=self.rng.randrange(10, 60 * 24 * 14))
        slots = []
        for seq in range(1, SLOTS_PER_ORDER + 1):
            end = start + timedelta(minutes=90)
            slots.append(
                {
                    "plan_id": self.closed_plan_id if done else self.plan_id,
                    "production_order_id": order_id,
                    "seq": seq,
                    "work_centre_id": self.rng.choice(self.centres),
                    "start": start,
                    "end": end,
                }
            )
            start = end
        return slots


def timed(engine: sa.Engine, read: Callable[[Session], object], repeat: int) -> float:
    """The median milliseconds of ``read`` in a new session, after two warm-up calls."""
    samples = []
    for i in range(repeat + 2):
        with Session(engine) as session:
            started = time.perf_counter()
            read(session)
            if i >= 2:
                samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def readers(plan_id: int, order_id: int) -> dict[str, Callable[[Session], object]]:
    def live(session: Session) -> Plan:
        plan = session.get(Plan, plan_id)
        assert plan is not None
        return plan

    return {
        "primary_key_read": lambda s: s.get(ProductionOrder, order_id),
        "placement": lambda s: _busy_minutes(s, live(s), datetime.now(UTC)),
        "scenario_snapshot": lambda s: live_slots(s, live(s)),
        "order_lists": lambda s: planned_finishes(s),
        "planner_page": lambda s: live_plan(s),
    }


def run(
    database_url: str,
    closed: list[int],
    open_orders: int,
    repeat: int,
    seed: int,
    closed_in: str,
    say: Callable[[str], None],
) -> dict[str, Any]:
    migrate.upgrade(database_url)
    engine = make_engine(database_url)
    postgres = engine.dialect.name == "postgresql"
    with Session(engine) as s:
        seed_demo_data(s)
    history = History(engine, seed, closed_in)
    history.add(open_orders, ProductionOrderStatus.IN_PRODUCTION)
    with Session(engine) as s:
        first_open = s.exec(select(col(ProductionOrder.id)).limit(1)).one() or 1
    steps: list[dict[str, Any]] = []
    ratios: list[dict[str, float]] = []
    done = 0
    for size in sorted(set(closed)):
        started = time.perf_counter()
        history.add(size - done, ProductionOrderStatus.DONE)
        done = size
        if postgres:
            with engine.connect() as conn:
                conn.execute(sa.text("ANALYZE"))
        added = time.perf_counter() - started
        say(f"{size:,} closed orders in the {closed_in} plan (added in {added:.1f} s)")
        ms = {
            name: round(timed(engine, read, repeat), 3)
            for name, read in readers(history.plan_id, first_open).items()
        }
        base = ms["primary_key_read"]
        ratios.append({name: round(value / base, 1) for name, value in ms.items()})
        steps.append(
            {
                "closed_orders": size,
                "slots_in_live_plan": (open_orders + (size if closed_in == "live" else 0))
                * SLOTS_PER_ORDER,
                "ms": ms,
                "ratio_to_primary_key_read": ratios[-1],
            }
        )
        say("  " + ", ".join(f"{name} {value:.2f} ms" for name, value in ms.items()))
    engine.dispose()
    first, last = ratios[0], ratios[-1]
    return {
        "benchmark": "the live plan's reads as shipped orders' slots pile up, against a "
        "primary-key read in the same run",
        "database": sa.engine.make_url(database_url).get_backend_name(),
        "open_orders": open_orders,
        "closed_in": closed_in,
        "repeat": repeat,
        "steps": steps,
        # How much slower each read is with the most history than with the least, each
        # against its own step's primary-key read (the machine's noise cancels out).
        "growth": {
            name: round(last[name] / first[name], 2) for name in first if name != "primary_key_read"
        },
        "cpus": os.cpu_count(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def measure(
    database_url: str | None,
    closed: list[int],
    open_orders: int,
    repeat: int,
    seed: int = 1,
    closed_in: str = "superseded",
    say: Callable[[str], None] = lambda _: None,
    out: Path | None = None,
) -> dict[str, Any]:
    """One run on a fresh database, written to bench/results/history-<database>.json."""
    return measure_on_fresh_database(
        "history",
        database_url,
        lambda url, _tmp: run(url, closed, open_orders, repeat, seed, closed_in, say),
        say,
        out,
    )
