"""``c2b demo``: a week of the platform on the embedded stack, in a few minutes.

Two buyer teams submit their customers' demand and pick what to make; the simulated
factories (``c2b.simulator``) work their orders at 600x; mid-week a factory goes down, and
a planner's scenario re-plans around it and is applied; every order ships. At the end:
the chain's lead time, stage by stage, beside the traditional chain, and the URLs to look
at (the planners' page, the Temporal UI).

Everything goes through the public HTTP API with each actor's own token, as real clients
would; the demo reads the database only to make those tokens.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

from bench.stack import Stack, running_platform
from c2b.db import make_engine
from c2b.simulator import SimulatedFactory, SimulationConfig, run_factory
from c2b.tokens import create_token
from models.scenarios import ApplyResult
from models.schemas import Role
from models.tables import BuyerTeam, Factory

# team -> [(customer, style, colour, size, quantity)]: small first runs, as C2B starts.
DEMAND = {
    "team-nova": [
        ("C-1001", "TS-CREW", "white", "M", 24),
        ("C-1002", "TS-CREW", "white", "L", 12),
        ("C-1003", "BL-WRAP", "rose", "S", 15),
        ("C-1004", "DR-SHIFT", "terracotta", "38", 12),
    ],
    "team-ridge": [
        ("C-2001", "HD-ZIP", "grey", "L", 18),
        ("C-2002", "SH-OXFORD", "blue", "M", 15),
        ("C-2003", "TS-GRAPHIC", "black", "XL", 24),
    ],
}
DOWN = "NB-WOVEN"  # the factory that goes down mid-week
# Stages the simulated factories' clock runs: the work, and the wait for a line that is
# busy with other work (the rest is the platform's real time).
FACTORY_STAGES = ("fabric_ready_to_first_operation", "first_operation_to_last_operation")


class Demo:
    def __init__(self, stack: Stack, tokens: dict[str, str], say: Callable[[str], None]) -> None:
        self.stack, self.tokens, self.say = stack, tokens, say
        self.http = httpx.Client(base_url=stack.api_url, timeout=60)
        self.batches: dict[str, list[int]] = {}

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, method: str, path: str, who: str, ok: int = 200, **kw: Any) -> Any:
        r = self.http.request(method, path, headers=self.auth(who), **kw)
        if r.status_code != ok:
            raise RuntimeError(f"{method} {path} as {who}: {r.status_code} {r.text}")
        return r.json()

    def submit_and_pick(self, team: str) -> int:
        need_by = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
        lines = [
            {
                "customer_ref": c,
                "style": s,
                "colour": colour,
                "size": size,
                "quantity": q,
                "need_by": need_by,
                "channel": "web",
                "region": "EU",
            }
            for c, s, colour, size, q in DEMAND[team]
        ]
        batch = self.call("POST", "/v1/demand-batches", team, 201, json={"lines": lines})
        batch_id = int(batch["batch_id"])
        picks = sorted({(s, colour) for _, s, colour, _, _ in DEMAND[team]})
        body = {
            "picks": [{"style": s, "colour": c} for s, c in picks],
            "close_window": True,
        }
        deadline = time.monotonic() + 60
        while True:
            r = self.http.post(
                f"/v1/demand-batches/{batch_id}/picks", json=body, headers=self.auth(team)
            )
            if r.status_code == 200:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the picks of batch {batch_id} were refused: {r.text}")
            time.sleep(0.3)
        self.say(f"  {team}: batch {batch_id}, {len(lines)} lines, picked {len(picks)} styles")
        return batch_id

    def orders(self) -> list[dict[str, Any]]:
        found = []
        for team in DEMAND:
            for batch in self.batches[team]:
                detail = self.call("GET", f"/v1/demand-batches/{batch}", team)
                found += detail["production_orders"]
        return found

    def wait(self, what: str, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}")
            time.sleep(1.0)

    def finished(self, path: str) -> bool:
        return self.call("GET", path, "planner")["status"] not in ("queued", "solving")

    def replan_around(self, factory: str) -> None:
        """The planner's scenario: the factory down for two days, run and applied. Orders
        keep moving meanwhile; the apply keeps them, and if they collide with the
        scenario's plan it is refused: run it again."""
        now = datetime.now(UTC)
        edit = {
            "kind": "factory_down",
            "factory": factory,
            "start": now.isoformat(),
            "end": (now + timedelta(days=2)).isoformat(),
        }
        for attempt in range(1, 6):
            body = {"name": f"{factory} down two days", "edits": [edit], "time_limit_s": 5}
            scenario = self.call("POST", "/v1/scenarios", "planner", 202, json=body)
            path = f"/v1/scenarios/{scenario['id']}"
            self.wait("the scenario", functools.partial(self.finished, path), 60)
            result = self.call("GET", path, "planner")
            if result["status"] != "done":
                raise RuntimeError(
                    f"scenario {scenario['id']}: {result['status']} {result['error']}"
                )
            k, live = result["kpis"], result["live_kpis"]
            self.say(
                f"  scenario {scenario['id']}: on time {live['on_time_pct']} % -> "
                f"{k['on_time_pct']} %, {result['diff']['operations_moved']} operations move"
            )
            r = self.http.post(f"{path}/apply", headers=self.auth("planner"))
            if r.status_code == 200:
                self.say(f"  applied: {ApplyResult.model_validate(r.json()).summary()}")
                return
            self.say(f"  apply {attempt}: {r.json().get('detail')}")
        self.say("  [yellow]the plan kept moving; the factory-down re-plan stands on its own[/]")


@contextlib.contextmanager
def demo_stack(data_dir: Path) -> Iterator[Stack]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with running_platform(f"sqlite:///{data_dir / 'c2b.db'}", data_dir) as stack:
        yield stack


def tokens_for(database_url: str) -> dict[str, str]:
    engine = make_engine(database_url)
    with Session(engine) as s:
        tokens = {
            team.code: create_token(s, Role.BUYER, team.id, f"demo-week:{team.code}").token
            for team in s.exec(select(BuyerTeam)).all()
        }
        tokens["planner"] = create_token(s, Role.PLANNER, None, "demo-week:planner").token
        for f in s.exec(select(Factory).order_by(col(Factory.id))).all():
            tokens[f"factory:{f.code}"] = create_token(
                s, Role.FACTORY, f.id, f"demo-week:{f.code}"
            ).token
        s.commit()
    engine.dispose()
    return tokens


def lead_time_table(report: dict[str, Any], speed: float) -> Table:
    """Stage by stage, in real minutes; factory work ran ``speed`` times faster than life,
    so its stages are also shown as the days they stand for."""
    table = Table(title=f"chain lead time of {len(report['orders'])} shipped orders")
    for column in ("stage", "orders", "p50 min", "p90 min", "max min", f"p50 at {speed:g}x"):
        if column == "stage":
            table.add_column(column, no_wrap=True)
        else:
            table.add_column(column, justify="right")
    for stage, s in report["summary"].items():
        simulated = stage in FACTORY_STAGES
        table.add_row(
            stage,
            str(s["orders"]),
            f"{60 * s['p50_hours']:.1f}",
            f"{60 * s['p90_hours']:.1f}",
            f"{60 * s['max_hours']:.1f}",
            f"{s['p50_hours'] * speed / 24:.1f} days" if simulated else "(real time)",
        )
    return table


FORTNIGHT_S = 14 * 24 * 3600


def run_demo(data_dir: Path, speed: float, console: Console, keep: bool) -> int:
    """The week; 1 with what went wrong if a step failed (the logs stay in ``data_dir``)."""
    try:
        return _week(data_dir, speed, console, keep)
    except RuntimeError as err:
        console.print(f"[red]the demo stopped: {err}[/]")
        console.print(f"logs: {data_dir}")
        return 1


def _week(data_dir: Path, speed: float, console: Console, keep: bool) -> int:
    say = console.print
    say(f"[bold]the demo week[/] on the embedded stack in {data_dir} ...")
    with demo_stack(data_dir) as stack:
        tokens = tokens_for(stack.env["DATABASE_URL"])
        demo = Demo(stack, tokens, say)
        factories = [
            SimulatedFactory(name.removeprefix("factory:"), token)
            for name, token in tokens.items()
            if name.startswith("factory:")
        ]
        stop = False
        started = time.monotonic()

        async def simulate() -> None:
            cfg = SimulationConfig(speed=speed, poll_seconds=2.0, heartbeat_seconds=2.0)
            async with httpx.AsyncClient(base_url=stack.api_url, timeout=60) as http:
                await asyncio.gather(*(run_factory(http, f, cfg, lambda: stop) for f in factories))

        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_until_complete, args=(simulate(),), daemon=True)
        thread.start()
        try:
            say(
                "Monday: two buyer teams submit demand and pick; "
                f"{len(factories)} factories work at {speed:g}x"
            )
            demo.batches = {team: [demo.submit_and_pick(team)] for team in DEMAND}
            wanted = sum(len({(s, c) for _, s, c, _, _ in lines}) for lines in DEMAND.values())
            demo.wait("production orders", lambda: len(demo.orders()) >= wanted, 120)
            say(f"  {wanted} production orders")
            demo.wait(
                "work in the factories",
                lambda: any(o["status"] == "in_production" for o in demo.orders()),
                120,
            )
            say(f"Wednesday: {DOWN} goes down")
            down = demo.call(
                "POST", f"/v1/factories/{DOWN}/down", "planner", json={"reason": "power cut"}
            )
            say(
                f"  {len(down['work_orders_to_move'])} work orders move, "
                f"{len(down['orders_notified'])} orders told"
            )
            demo.replan_around(DOWN)
            say("Friday: the factories finish; every customer's line ships")
            demo.wait(
                "every order to ship",
                lambda: all(o["status"] in ("done", "cancelled") for o in demo.orders()),
                # The orders' work pauses over nights and Sundays: allow a simulated
                # fortnight at this speed, and at least 7 minutes.
                max(420.0, 120 + FORTNIGHT_S / speed),
            )
            demo.call("POST", f"/v1/factories/{DOWN}/up", "planner")
        finally:
            stop = True
            thread.join(timeout=15)
        report = demo.call("GET", "/v1/analytics/lead-time", "planner")
        console.print(lead_time_table(report, speed))
        say(
            f"hand-offs from customer to factory and back: {report['mean_hand_offs']} on average; "
            "the traditional chain: " + " → ".join(report["traditional_chain"])
        )
        say(f"the week took {time.monotonic() - started:.0f} s of real time")
        ui = stack.env["C2B_TEMPORAL_UI_PORT"]
        say(f"planners' page:  {stack.api_url}/planner  (token: {tokens['planner']})")
        say(f"Temporal UI:     http://127.0.0.1:{ui}")
        say(f"API docs:        {stack.api_url}/docs")
        if keep:
            say("[bold green]the stack stays up to look around[/]; press Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(1)
    return 0
