"""Fault tests over real processes (issue 5): the worker dies in the middle of an order's
flow, or the Temporal dev server is killed with -9 and restarted on its database file.
Either way the order completes with no duplicate work order, reservation or shipment,
and every customer line ends shipped, once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from c2b.temporal_client import connect_temporal
from c2b.tokens import issue_demo_tokens
from models.failpoints import CRASH_EXIT_CODE
from models.queues import production_order_workflow_id
from models.schemas import (
    DemandLineStatus,
    ProductionOrderResult,
    ProductionOrderStatus,
    ReservationStatus,
    WorkOrderStatus,
)
from models.tables import (
    BomLine,
    DemandLine,
    Event,
    Fabric,
    FabricReservation,
    Factory,
    Shipment,
    Style,
    WorkOrder,
)
from tests.api.test_buyer_flow import line
from tests.conftest import clean_database, in_one_pass
from tests.e2e.conftest import CLI, dev_server_args, spawn, stop, wait_for_picking, wait_healthy
from workflows.production_order import ProductionOrderWorkflow

pytestmark = pytest.mark.e2e

# The worker's kill -9 tests run in the SQLite pass: on PostgreSQL, the 300-order chaos
# benchmark killed the worker six times (and the API and the dev server six times each)
# with nothing lost or doubled (bench/results/chaos-postgresql.json), and the dev-server
# kill below runs in both passes. Both passes together must stay within CI's 15 minutes.
WORKER_KILLS_ON_POSTGRESQL = "the PostgreSQL chaos benchmark killed the worker six times"

# Three customers of one style-colour: one production order of three operations.
LINES = [
    line(customer_ref="C-1", size="M", quantity=60),
    line(customer_ref="C-2", size="L", quantity=50),
    line(customer_ref="C-3", size="S", quantity=40),
]
OPERATIONS = 3


class Stack:
    """The dev server, a worker and the API as processes, and a client of the API."""

    def __init__(self, env: dict[str, str], engine: sa.Engine, tmp_path: Path) -> None:
        self.env, self.engine = env, engine
        self.logs = tmp_path / "logs"
        self.logs.mkdir()
        self.temporal_db = tmp_path / "temporal.db"
        self.url = f"http://127.0.0.1:{env['C2B_API_PORT']}"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.http = httpx.Client(base_url=self.url, timeout=60)
        self.tokens: dict[str, str] = {}
        self.factories: list[str] = []
        self.crashes = 0

    def start(self, name: str, failpoints: str = "") -> None:
        if name == "temporal":
            args = dev_server_args(self.env, self.temporal_db)
        else:
            args = [*CLI, name]
        env = {**self.env, "C2B_FAILPOINTS": failpoints}
        run = sum(1 for log in self.logs.iterdir() if log.name.startswith(name))
        self.procs[name] = spawn(self.logs, f"{name}-{run}", args, env)

    def supervise_worker(self, failpoints: list[str]) -> threading.Thread:
        """Restart the worker each time it dies, as a process supervisor would; the n-th
        restarted worker gets ``failpoints[n]``. Returns once the last one is running."""

        def restart() -> None:
            for points in failpoints:
                assert self.procs["worker"].wait(timeout=120) == CRASH_EXIT_CODE
                self.crashes += 1
                self.start("worker", points)

        thread = threading.Thread(target=restart, daemon=True)
        thread.start()
        return thread

    def up(self, worker_failpoints: str = "") -> None:
        self.start("temporal")
        self.start("worker", worker_failpoints)
        self.start("api")
        wait_healthy(self.url, list(self.procs.values()))
        with Session(self.engine) as session:
            self.tokens = {
                t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)
            }
            self.factories = list(session.exec(select(Factory.code)).all())

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def down(self) -> None:
        self.http.close()
        stop(list(reversed(self.procs.values())))

    def submit_and_pick(self) -> tuple[int, int]:
        """A batch of LINES, picked at once: (batch id, its production order's id)."""
        buyer = self.auth("team-nova")
        r = self.http.post("/v1/demand-batches", json={"lines": LINES}, headers=buyer)
        assert r.status_code == 201, r.text
        batch_id = r.json()["batch_id"]
        wait_for_picking(self.http, batch_id, buyer)
        picks = {"picks": [{"style": "TS-CREW", "colour": "white"}], "close_window": True}
        r = self.http.post(f"/v1/demand-batches/{batch_id}/picks", json=picks, headers=buyer)
        assert r.status_code == 200, r.text
        orders = eventually(
            lambda: self.http.get(f"/v1/demand-batches/{batch_id}", headers=buyer).json()[
                "production_orders"
            ],
            timeout=30,
        )
        return batch_id, orders[0]["id"]

    def claim(self, timeout: float) -> tuple[str, dict[str, Any]]:
        """The next released work order, whichever factory it is for."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for code in self.factories:
                try:
                    r = self.http.post(
                        "/v1/factory/work-orders/claim?wait=1", headers=self.auth(code)
                    )
                except httpx.TransportError:
                    time.sleep(0.5)  # the API is still reconnecting
                    continue
                if r.status_code == 200:
                    return code, r.json()
                assert r.status_code in (204, 503, 504), r.text
        raise AssertionError(f"no work order was released within {timeout:g} s")

    def complete(self, code: str, wo: dict[str, Any], timeout: float = 120) -> None:
        """All pieces good; retried with the same key while the platform recovers, as a
        factory would."""
        body = {"good": [{"size": s, "quantity": q} for s, q in wo["size_breakdown"].items()]}
        headers = {**self.auth(code), "Idempotency-Key": f"fault-{wo['id']}"}
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self.http.post(
                    f"/v1/factory/work-orders/{wo['id']}/complete", json=body, headers=headers
                )
                if r.status_code == 200:
                    return
                assert r.status_code in (503, 504), r.text
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"work order {wo['id']} was never completed"
            time.sleep(0.5)

    def work(self, operations: int, claim_timeout: float) -> list[int]:
        done = []
        for _ in range(operations):
            code, wo = self.claim(claim_timeout)
            self.complete(code, wo)
            done.append(wo["seq"])
        return done

    def workflow_result(self, order_id: int, timeout: float) -> ProductionOrderResult:
        """The order's workflow's own result: it finished, not only its database rows."""

        async def result() -> ProductionOrderResult:
            client = await connect_temporal(self.env["TEMPORAL_ADDRESS"])
            handle = client.get_workflow_handle_for(
                ProductionOrderWorkflow.run, production_order_workflow_id(order_id)
            )
            return await asyncio.wait_for(handle.result(), timeout)

        return asyncio.run(result())

    def wait_done(self, order_id: int, timeout: float) -> dict[str, Any]:
        planner = self.auth("planner")

        def done() -> dict[str, Any] | None:
            try:
                r = self.http.get(f"/v1/production-orders/{order_id}", headers=planner)
            except httpx.TransportError:
                return None
            order: dict[str, Any] = r.json()
            return order if order.get("status") == ProductionOrderStatus.DONE else None

        result: dict[str, Any] = eventually(done, timeout=timeout)
        return result


def eventually(probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out; last answer: {last!r}")


def assert_everything_happened_once(engine: sa.Engine, batch_id: int, order_id: int) -> None:
    with Session(engine) as s:
        work_orders = s.exec(select(WorkOrder).where(WorkOrder.production_order_id == order_id))
        by_seq = sorted((w.seq, w.attempt, w.status) for w in work_orders)
        assert by_seq == [(q, 1, WorkOrderStatus.COMPLETED) for q in range(1, OPERATIONS + 1)]
        per_event = s.exec(
            select(Event.entity_id, Event.kind, func.count())
            .where(Event.entity == "work_order")
            .group_by(col(Event.entity_id), col(Event.kind))
        ).all()
        twice = [(wo, kind, n) for wo, kind, n in per_event if n != 1]
        assert twice == [], f"work order events recorded more than once: {twice}"

        fabrics = s.exec(select(BomLine.fabric_id).join(Style).where(Style.code == "TS-CREW")).all()
        reservations = s.exec(
            select(FabricReservation).where(FabricReservation.production_order_id == order_id)
        ).all()
        assert sorted(r.fabric_id for r in reservations) == sorted(fabrics)
        assert {r.status for r in reservations} == {ReservationStatus.CONSUMED}

        lines = s.exec(select(DemandLine).where(DemandLine.batch_id == batch_id)).all()
        assert {x.status for x in lines} == {DemandLineStatus.SHIPPED}
        shipments = s.exec(select(Shipment).where(Shipment.production_order_id == order_id))
        assert sorted(x.demand_line_id for x in shipments) == sorted(x.id or 0 for x in lines)
        shipped_events = s.exec(
            select(func.count()).where(
                Event.entity == "production_order",
                Event.entity_id == order_id,
                Event.kind == "shipped",
            )
        ).one()
        assert shipped_events == 1


def assert_shipped_once(
    stack: Stack, engine: sa.Engine, batch_id: int, order_id: int, timeout: float
) -> None:
    """The order's workflow ended done with every line shipped, the read side shows each
    shipment, and the database holds everything exactly once."""
    result = stack.workflow_result(order_id, timeout=timeout)
    assert (result.status, result.shipped_lines) == (ProductionOrderStatus.DONE, len(LINES))
    order = stack.wait_done(order_id, timeout=10)
    assert len(order["shipments"]) == len(LINES)
    assert_everything_happened_once(engine, batch_id, order_id)


@pytest.fixture
def stack(stack_env: dict[str, str], engine: sa.Engine, tmp_path: Path) -> Any:
    clean_database(engine)
    upgrade = subprocess.run([*CLI, "db", "upgrade"], env=stack_env, capture_output=True)
    assert upgrade.returncode == 0, upgrade.stderr
    s = Stack(stack_env, engine, tmp_path)
    try:
        yield s
    finally:
        s.down()


def test_the_worker_dies_twice_mid_order_and_each_step_still_happens_once(
    stack: Stack, engine: sa.Engine, db_url: str
) -> None:
    in_one_pass(db_url, "sqlite", WORKER_KILLS_ON_POSTGRESQL)
    # The first worker dies right after the work orders are committed, before it can
    # report that: the next worker runs the step again (once the dead worker's workflow
    # task times out). That one dies right after shipping is committed, and a third
    # ships again.
    stack.up(worker_failpoints="work_orders_created")
    supervisor = stack.supervise_worker(["ship_order.after_commit", ""])
    batch_id, order_id = stack.submit_and_pick()
    # A factory's last completion waits for the worker that ships the order to come back.
    assert stack.work(OPERATIONS, claim_timeout=90) == [1, 2, 3]
    supervisor.join(timeout=120)
    assert stack.crashes == 2

    assert_shipped_once(stack, engine, batch_id, order_id, timeout=90)


def test_the_dev_server_is_killed_mid_order_and_restarted_on_its_database(
    stack: Stack, engine: sa.Engine
) -> None:
    stack.up()
    batch_id, order_id = stack.submit_and_pick()
    assert stack.work(1, claim_timeout=60) == [1]
    # The workflow is now taking the cutting's completion and releasing the sewing.
    server = stack.procs["temporal"]
    server.send_signal(signal.SIGKILL)
    assert server.wait(timeout=10) == -signal.SIGKILL
    stack.start("temporal")

    assert stack.work(OPERATIONS - 1, claim_timeout=90) == [2, 3]
    assert_shipped_once(stack, engine, batch_id, order_id, timeout=60)


def test_the_worker_dies_right_after_undoing_a_cancelled_order_and_nothing_is_undone_twice(
    stack: Stack, engine: sa.Engine, db_url: str
) -> None:
    in_one_pass(db_url, "sqlite", WORKER_KILLS_ON_POSTGRESQL)
    # The compensation commits, the worker dies before reporting it, and the next worker
    # runs it again: the fabric goes back to stock once, the work is withdrawn once.
    stack.up(worker_failpoints="compensate_cancellation.after_commit")
    supervisor = stack.supervise_worker([""])
    with Session(engine) as s:
        before = s.exec(select(Fabric.metres_on_hand).where(Fabric.code == "JER-160")).one()
    batch_id, order_id = stack.submit_and_pick()
    code, wo = stack.claim(timeout=60)  # a factory holds the cutting when the team cancels
    r = stack.http.post(
        f"/v1/production-orders/{order_id}/cancel",
        json={"reason": "the customers withdrew"},
        headers=stack.auth("team-nova"),
    )
    assert r.status_code == 202, r.text
    supervisor.join(timeout=120)
    assert stack.crashes == 1

    result = stack.workflow_result(order_id, timeout=90)
    assert result.status == ProductionOrderStatus.CANCELLED
    with Session(engine) as s:
        after = s.exec(select(Fabric.metres_on_hand).where(Fabric.code == "JER-160")).one()
        assert after == pytest.approx(before)  # released once, not twice
        reservations = s.exec(
            select(FabricReservation.status).where(
                FabricReservation.production_order_id == order_id
            )
        ).all()
        assert reservations == [ReservationStatus.RELEASED]
        statuses = s.exec(
            select(WorkOrder.status).where(WorkOrder.production_order_id == order_id)
        ).all()
        assert set(statuses) == {WorkOrderStatus.WITHDRAWN}
        undone = s.exec(
            select(Event.kind, func.count())
            .where(
                Event.entity_id == order_id,
                Event.entity == "production_order",
                col(Event.kind).in_(["cancelled", "status:cancelled"]),
            )
            .group_by(col(Event.kind))
        ).all()
        assert dict(undone) == {"cancelled": 1, "status:cancelled": 1}
        withdrawn = s.exec(
            select(func.count()).where(Event.kind == "withdrawn", Event.entity == "work_order")
        ).one()
        assert withdrawn == OPERATIONS
        lines = s.exec(select(DemandLine.status).where(DemandLine.batch_id == batch_id)).all()
        assert set(lines) == {DemandLineStatus.DECLINED}
    # The factory that held the cutting is told to stop.
    done = stack.http.post(
        f"/v1/factory/work-orders/{wo['id']}/complete",
        json={"good": [{"size": s, "quantity": q} for s, q in wo["size_breakdown"].items()]},
        headers=stack.auth(code),
    )
    assert done.status_code == 409 and "was withdrawn" in done.json()["detail"]
