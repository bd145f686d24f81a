"""One demand batch through every real part: intake, aggregation, picks, a production order,
work orders, a factory claiming and completing them, shipping, and the event trail."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select

from models.tables import Factory
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, line
from tests.workflows.test_demand_batch_workflow import replays
from workflows import search_attributes


async def drive_batch_to_done(
    http: httpx.AsyncClient,
    auth: dict[str, dict[str, str]],
    factory_codes: dict[int, str],
    short_at_cutting: int = 0,
) -> dict[str, Any]:
    """The walking skeleton as a buyer team and its factories would drive it over HTTP.
    ``auth`` holds headers per demo principal (factories by code). The cutting reports
    ``short_at_cutting`` M pieces defective. Returns the finished production order. Shared
    with the e2e test over real HTTP."""
    lines = [
        line(customer_ref="C-1", size="S", quantity=40),
        line(customer_ref="C-2", size="M", quantity=50),
        line(customer_ref="C-3", size="L", quantity=30, personalisation="initials AB"),
    ]
    resp = await http.post("/v1/demand-batches", json={"lines": lines}, headers=auth["team-nova"])
    assert resp.status_code == 201, resp.text
    batch_id = resp.json()["batch_id"]

    async def pick() -> httpx.Response | None:
        r = await http.post(
            f"/v1/demand-batches/{batch_id}/picks",
            json={
                "picks": [{"style": "TS-CREW", "colour": "white", "quantity": 120}],
                "close_window": True,
            },
            headers=auth["team-nova"],
        )
        return None if "aggregated" in r.text else r

    picked = await eventually(pick)
    assert picked.status_code == 200, picked.text
    assert picked.json() == {"accepted": ["TS-CREW/white"], "window_open": False}

    async def order_id() -> int | None:
        r = await http.get(f"/v1/demand-batches/{batch_id}", headers=auth["team-nova"])
        ids = (r.json().get("progress") or {}).get("production_order_ids")
        return ids[0] if ids else None

    po_id = await eventually(order_id)

    async def order() -> dict[str, Any]:
        r = await http.get(f"/v1/production-orders/{po_id}", headers=auth["planner"])
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    completed: set[int] = set()
    while True:
        current = await order()
        if current["status"] == "done":
            break
        # The next work order is released only when its predecessor is completed.
        released = [w for w in current["work_orders"] if w["status"] == "released"]
        if not released:
            await eventually(
                lambda: _has_released_or_done(http, po_id, auth["planner"]), timeout=30
            )
            continue
        wo = released[0]
        factory_auth = auth[factory_codes[wo["factory_id"]]]
        claim = await http.post("/v1/factory/work-orders/claim?wait=5", headers=factory_auth)
        assert claim.status_code == 200, claim.text
        claimed = claim.json()
        assert claimed["id"] == wo["id"] and claimed["status"] == "claimed"
        started = await http.post(f"/v1/factory/work-orders/{wo['id']}/start", headers=factory_auth)
        assert started.status_code == 200 and started.json()["status"] == "started"
        short = short_at_cutting if not completed else 0
        good = [
            {"size": size, "quantity": q - (short if size == "M" else 0)}
            for size, q in claimed["size_breakdown"].items()
        ]
        defective = [{"size": "M", "quantity": short}] if short else []
        key = {"Idempotency-Key": f"complete-{wo['id']}"}
        outcome = {"good": good, "defective": defective}
        done = await http.post(
            f"/v1/factory/work-orders/{wo['id']}/complete",
            json=outcome,
            headers={**factory_auth, **key},
        )
        assert done.status_code == 200, done.text
        # A retry of the same completion (a flaky network) gets the same answer.
        again = await http.post(
            f"/v1/factory/work-orders/{wo['id']}/complete",
            json=outcome,
            headers={**factory_auth, **key},
        )
        assert again.status_code == 200 and again.json() == done.json()
        completed.add(wo["id"])

    final = await order()
    assert {w["id"] for w in final["work_orders"]} == completed
    return final


async def _has_released_or_done(http: httpx.AsyncClient, po_id: int, auth: dict[str, str]) -> bool:
    body = (await http.get(f"/v1/production-orders/{po_id}", headers=auth)).json()
    return body["status"] == "done" or any(w["status"] == "released" for w in body["work_orders"])


def assert_trail_shows_every_step(order: dict[str, Any]) -> None:
    assert order["status"] == "done"
    assert order["quantity"] == 120 and sum(order["size_breakdown"].values()) == 120
    assert order["good_quantity"] == 120
    kinds = [(e["entity"], e["kind"]) for e in order["events"]]
    for step in [
        ("production_order", "created"),
        ("production_order", "fabric_reserved"),
        ("production_order", "scheduled"),
        ("production_order", "status:in_production"),
        ("work_order", "released"),
        ("work_order", "claimed"),
        ("work_order", "started"),
        ("work_order", "completed"),
        ("production_order", "shipped"),
        ("production_order", "status:done"),
    ]:
        assert step in kinds, (step, kinds)
    # Routing order: cut, sew, finish, each completed exactly once.
    assert [w["operation_kind"] for w in order["work_orders"]] == ["cut", "sew", "finish"]
    assert kinds.count(("work_order", "completed")) == 3
    assert kinds.index(("production_order", "shipped")) > max(
        i for i, k in enumerate(kinds) if k == ("work_order", "completed")
    )
    # The read side: lead time stage by stage, fabric, and each customer's shipped line.
    stages = [x["status"] for x in order["stages"]]
    assert stages == ["created", "fabric_reserved", "scheduled", "in_production", "done"]
    assert order["stages"][-1]["hours"] == 0 and order["stages"][-1]["left_at"] is not None
    assert sum(x["hours"] for x in order["stages"]) == pytest.approx(
        order["lead_time_hours"], abs=0.01
    )
    assert [r["status"] for r in order["reservations"]] == ["consumed"]
    assert sum(x["quantity"] for x in order["shipments"]) == 120
    last_seq = max(w["seq"] for w in order["work_orders"])
    last_ops = {w["id"] for w in order["work_orders"] if w["seq"] == last_seq}
    assert all(set(x["work_order_ids"]) == last_ops for x in order["shipments"])


async def test_one_batch_travels_from_intake_to_a_shipped_order(
    platform: Platform, factory_ids: dict[str, int]
) -> None:
    auth = {name: platform.auth(name) for name in platform.tokens}
    codes = {factory_id: code for code, factory_id in factory_ids.items()}
    final = await drive_batch_to_done(platform.http, auth, codes)
    assert_trail_shows_every_step(final)
    batch = await platform.http.get(
        f"/v1/demand-batches/{final['batch_id']}", headers=auth["team-nova"]
    )
    assert batch.json()["lines_by_status"]["shipped"] == 3

    # The Temporal UI finds the order by its search attributes.
    query = f'C2bOrderId = {final["id"]} AND C2bStyle = "TS-CREW"'

    async def indexed() -> dict[str, Any] | None:
        async for found in platform.env.client.list_workflows(query):
            attrs = found.typed_search_attributes
            return {
                "team": attrs.get(search_attributes.BUYER_TEAM),
                "status": attrs.get(search_attributes.ORDER_STATUS),
            }
        return None

    assert await eventually(indexed) == {"team": "team-nova", "status": "done"}

    # Keep a finished order's history for the replay test (tests/workflows/histories).
    handle = platform.env.client.get_workflow_handle(f"production-order-{final['id']}")
    history = await handle.fetch_history()
    await replays(history, "production_order_done")


async def test_a_short_cutting_is_recut_before_sewing_starts(platform: Platform) -> None:
    with platform.session_factory() as s:
        codes = {f.id or 0: f.code for f in s.exec(select(Factory))}
    auth = {name: platform.auth(name) for name in platform.tokens}
    final = await drive_batch_to_done(platform.http, auth, codes, short_at_cutting=5)
    assert final["status"] == "done" and final["good_quantity"] == 120
    cuts = [w for w in final["work_orders"] if w["operation_kind"] == "cut"]
    assert [(w["attempt"], w["quantity"], w["good_quantity"]) for w in cuts] == [
        (1, 120, 115),
        (2, 5, 5),
    ]
    kinds = [(e["entity"], e["kind"]) for e in final["events"]]
    recut = kinds.index(("production_order", "recut"))
    sewing = next(w["id"] for w in final["work_orders"] if w["operation_kind"] == "sew")
    assert recut < kinds.index(("work_order", "released"), recut)  # the recut's release
    # Sewing is released only once the recut is done: not at the recut's planned start,
    # which may be the next shift's while a factory that is open now does it at once.
    recut_done = next(
        e["at"]
        for e in final["events"]
        if (e["entity"], e["entity_id"], e["kind"]) == ("work_order", cuts[1]["id"], "completed")
    )
    assert all(
        e["at"] >= recut_done
        for e in final["events"]
        if e["entity"] == "work_order" and e["entity_id"] == sewing and e["kind"] == "released"
    )
