"""The API dies right after the workflow accepted a factory's completion, before it could
answer. The factory retries on the restarted API: it gets the answer, the completion counts
once, and the order moves on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import Session, col, select

from c2b.tokens import issue_demo_tokens
from models.failpoints import CRASH_EXIT_CODE
from models.schemas import WorkOrderStatus
from models.tables import Event, WorkOrder
from tests.api.test_buyer_flow import line
from tests.conftest import clean_database
from tests.e2e.conftest import CLI, dev_server_args, spawn, stop, wait_for_picking, wait_healthy

pytestmark = pytest.mark.e2e


def test_a_completion_survives_the_api_dying_after_the_workflow_accepted_it(
    stack_env: dict[str, str], engine: sa.Engine, tmp_path: Path
) -> None:
    clean_database(engine)
    url = f"http://127.0.0.1:{stack_env['C2B_API_PORT']}"
    logs = tmp_path / "logs"
    logs.mkdir()

    temporal = spawn(
        logs, "temporal", dev_server_args(stack_env, tmp_path / "temporal.db"), stack_env
    )
    worker = spawn(logs, "worker", [*CLI, "worker"], stack_env)
    crashing = {**stack_env, "C2B_FAILPOINTS": "complete.after_update_accepted"}
    api = spawn(logs, "api", [*CLI, "api"], crashing)
    procs = [temporal, worker, api]
    try:
        wait_healthy(url, procs)
        with Session(engine) as session:
            tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)}
        buyer = {"Authorization": f"Bearer {tokens['team-nova']}"}
        factory = {"Authorization": f"Bearer {tokens['GZ-KNIT']}"}
        # Longer than the API's own wait for a workflow (30 s), so a slow worker shows as
        # the API's 504 rather than as a client time-out.
        with httpx.Client(base_url=url, timeout=60) as http:
            batch = http.post(
                "/v1/demand-batches", json={"lines": [line(quantity=120)]}, headers=buyer
            ).json()
            wait_for_picking(http, batch["batch_id"], buyer)
            picks = {"picks": [{"style": "TS-CREW", "colour": "white"}], "close_window": True}
            r = http.post(
                f"/v1/demand-batches/{batch['batch_id']}/picks", json=picks, headers=buyer
            )
            assert r.status_code == 200, r.text
            claim = http.post("/v1/factory/work-orders/claim?wait=20", headers=factory)
            assert claim.status_code == 200, claim.text
            wo = claim.json()
            done = {"good": [{"size": "M", "quantity": 120}]}
            key = {"Idempotency-Key": "cut-done-1"}
            with pytest.raises(httpx.TransportError):  # the API died mid-request
                http.post(
                    f"/v1/factory/work-orders/{wo['id']}/complete",
                    json=done,
                    headers={**factory, **key},
                )
        assert api.wait(timeout=10) == CRASH_EXIT_CODE

        procs[2] = spawn(logs, "api-restarted", [*CLI, "api"], stack_env)
        wait_healthy(url, procs)
        with httpx.Client(base_url=url, timeout=30) as http:
            retry = http.post(
                f"/v1/factory/work-orders/{wo['id']}/complete",
                json=done,
                headers={**factory, **key},
            )
            assert retry.status_code == 200, retry.text
            assert retry.json()["good_quantity"] == 120
            # The workflow counted it: the next operation is released to the factory.
            nxt = http.post("/v1/factory/work-orders/claim?wait=20", headers=factory)
            assert nxt.status_code == 200 and nxt.json()["seq"] == 2

        with Session(engine) as session:
            completions = session.exec(
                select(Event).where(
                    Event.entity == "work_order",
                    Event.entity_id == wo["id"],
                    Event.kind == "completed",
                )
            ).all()
            assert len(completions) == 1
            first = session.exec(select(WorkOrder).where(col(WorkOrder.id) == wo["id"])).one()
            assert first.status == WorkOrderStatus.COMPLETED and first.good_quantity == 120
    finally:
        stop(list(reversed(procs)))
