"""The test batch → reorder loop over HTTP, on the real Temporal dev server and a real
database: pick a test batch, report its sales, get a proposal, change it, and the
customers the test batch could not serve go into the reorder's production order."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import Session
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from c2b.db import SessionFactory
from models.schemas import LifecycleSettings
from models.tables import StyleLifecycle
from tests.api.conftest import Platform, running_platform
from tests.api.test_buyer_flow import aggregate_of, eventually, line, submit
from tests.factories import make_order

# Two seconds of observation; a day's sales over two seconds make a wild daily rate, so
# the test changes the proposed quantity rather than accepting it.
QUICK = LifecycleSettings(observation_days=2 / 86_400, decision_hours=1)


@pytest.fixture
async def quick_platform(
    dev_server_env: WorkflowEnvironment,
    session_factory: SessionFactory,
    session: Session,
    db_url: str,
) -> AsyncIterator[Platform]:
    async with running_platform(
        dev_server_env, session_factory, session, db_url, lifecycle=QUICK
    ) as p:
        yield p


async def lifecycles(p: Platform) -> list[dict[str, Any]]:
    r = await p.http.get("/v1/styles/TS-CREW/lifecycles", headers=p.auth("team-nova"))
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


async def test_a_test_batch_sells_and_its_changed_reorder_serves_the_waiting_customers(
    quick_platform: Platform,
) -> None:
    p, buyer = quick_platform, quick_platform.auth("team-nova")
    lines = [line(quantity=60), line(customer_ref="C-2", size="S", quantity=50)]
    batch_id = (await submit(p, {"lines": lines})).json()["batch_id"]
    await aggregate_of(p, batch_id)
    picked = await p.http.post(
        f"/v1/demand-batches/{batch_id}/picks",
        json={
            "picks": [{"style": "TS-CREW", "colour": "white", "quantity": 30, "test_batch": True}],
            "close_window": True,
        },
        headers=buyer,
    )
    assert picked.status_code == 200, picked.text
    (started,) = await eventually(lambda: lifecycles(p))
    assert started["status"] == "waiting_for_sales"

    async def running() -> bool:  # the row is written a moment before the workflow starts
        try:
            await p.env.client.get_workflow_handle(f"style-lifecycle-{started['id']}").describe()
        except RPCError:
            return False
        return True

    await eventually(running)

    sales = "/v1/styles/TS-CREW/sales"
    today = datetime.now(UTC).date().isoformat()
    bad_size = await p.http.post(
        sales,
        json={"colour": "white", "day": today, "sizes": [{"size": "XXXL", "units": 1}]},
        headers=buyer,
    )
    assert bad_size.status_code == 422 and "'XXXL' is not in the size run" in bad_size.text
    no_test = await p.http.post(
        sales,
        json={"colour": "black", "day": today, "sizes": [{"size": "M", "units": 1}]},
        headers=buyer,
    )
    assert no_test.status_code == 404 and "TS-CREW/black" in no_test.json()["detail"]
    early = await p.http.post(
        "/v1/styles/TS-CREW/reorder", json={"colour": "white", "decision": "accept"}, headers=buyer
    )
    assert early.status_code == 409 and "no proposal to decide" in early.json()["detail"]

    reported = await p.http.post(
        sales,
        json={
            "colour": "white",
            "day": today,
            "sizes": [{"size": "M", "units": 20}, {"size": "S", "units": 5}],
        },
        headers=buyer,
    )
    assert reported.status_code == 200, reported.text
    assert reported.json()["units_sold"] == 25

    async def proposed() -> dict[str, Any] | None:
        (row,) = await lifecycles(p)
        return row if row["status"] == "awaiting_decision" else None

    row = await eventually(proposed)
    assert row["units_sold_by_size"] == {"M": 20, "S": 5} and row["days_reported"] == 1
    assert row["proposal"]["units_sold"] == 25 and row["proposal"]["received"] == 30
    assert row["decision_due_at"] is not None

    changed = await p.http.post(
        "/v1/styles/TS-CREW/reorder",
        json={"colour": "white", "decision": "change", "quantity": 110},
        headers=buyer,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["quantity"] == 110

    async def reordered() -> dict[str, Any] | None:
        (row,) = await lifecycles(p)
        return row if row["status"] == "reordered" else None

    row = await eventually(reordered)
    assert row["decision"] == "change"
    order = (
        await p.http.get(f"/v1/production-orders/{row['reorder_order_id']}", headers=buyer)
    ).json()
    assert order["quantity"] == 110 and order["batch_id"] == batch_id
    assert order["reorder_round"] == 1
    page = (await p.http.get(f"/v1/demand-batches/{batch_id}/lines", headers=buyer)).json()
    assert {(x["customer_ref"], x["status"], x["production_order_id"]) for x in page["lines"]} == {
        ("C-1", "in_production", row["reorder_order_id"]),
        ("C-2", "in_production", row["reorder_order_id"]),
    }
    detail = (await p.http.get(f"/v1/demand-batches/{batch_id}", headers=buyer)).json()
    assert detail["quantities"]["picked"] == detail["quantities"]["accepted"] == 110
    assert [(o["quantity"], o["reorder_round"]) for o in detail["production_orders"]] == [
        (30, 0),
        (110, 1),
    ]


async def test_sales_for_a_lifecycle_whose_workflow_is_not_up_yet_get_a_503_to_retry(
    platform: Platform, session: Session, team_id: int
) -> None:
    order = make_order(session, team_id)
    session.add(
        StyleLifecycle(
            team_id=team_id,
            style_code="TS-CREW",
            colour="white",
            test_order_id=order.id or 0,
            workflow_id="style-lifecycle-not-started-yet",
        )
    )
    session.commit()
    today = datetime.now(UTC).date().isoformat()
    resp = await platform.http.post(
        "/v1/styles/TS-CREW/sales",
        json={"colour": "white", "day": today, "sizes": [{"size": "M", "units": 1}]},
        headers=platform.auth("team-nova"),
    )
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    assert "is starting; retry in a moment" in resp.json()["detail"]
