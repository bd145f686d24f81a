"""Fabric purchases and deliveries over HTTP on the real dev server: an order short of
fabric waits for its purchase, and the delivery sends it on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from models.schemas import PurchaseOrderStatus
from models.tables import Fabric, FabricPurchaseOrder
from tests.activities.test_production_activities import tee_fabric
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, line, pick_and_close, submit


async def test_a_delivery_sends_the_waiting_order_on_and_counts_once(platform: Platform) -> None:
    http, buyer, planner = platform.http, platform.auth("team-nova"), platform.auth("planner")
    with platform.session_factory() as s:
        tee_fabric(s).metres_on_hand = 1.0
        s.commit()
    batch_id = (await submit(platform, {"lines": [line(quantity=120)]})).json()["batch_id"]
    await pick_and_close(platform, batch_id, {"style": "TS-CREW", "colour": "white"})

    async def order_in(state: str) -> dict[str, Any] | None:
        detail = (await http.get(f"/v1/demand-batches/{batch_id}", headers=buyer)).json()
        orders = detail["production_orders"]
        return orders[0] if orders and orders[0]["status"] == state else None

    order = await eventually(lambda: order_in("awaiting_fabric"))
    assert (await http.get("/v1/fabric-purchase-orders", headers=buyer)).status_code == 403
    listed = await http.get(
        "/v1/fabric-purchase-orders", params={"status": "ordered"}, headers=planner
    )
    (po,) = listed.json()
    assert po["production_order_id"] == order["id"] and po["fabric_code"] == "JER-160"

    note = {"purchase_order_id": po["id"], "metres": po["metres"] + 10, "delivery_ref": "DN-1"}
    delivered = await http.post("/v1/fabric-deliveries", json=note, headers=planner)
    assert delivered.status_code == 200, delivered.text
    body = delivered.json()
    assert body["purchase_order"]["status"] == "delivered" and body["order_notified"] is True
    assert body["metres_on_hand"] == pytest.approx(1.0 + po["metres"] + 10)
    await eventually(lambda: order_in("in_production"))

    again = await http.post("/v1/fabric-deliveries", json=note, headers=planner)
    assert again.status_code == 200 and again.json()["purchase_order"] == body["purchase_order"]
    other = await http.post(
        "/v1/fabric-deliveries", json={**note, "delivery_ref": "DN-2"}, headers=planner
    )
    assert other.status_code == 409 and "delivered already (note DN-1)" in other.text
    with platform.session_factory() as s:
        fabric = s.exec(select(Fabric).where(Fabric.code == "JER-160")).one()
        # The stock grew once: the order's reservation took its share of the delivery.
        assert fabric.metres_on_hand == pytest.approx(11.0, abs=0.01)
        second = FabricPurchaseOrder(
            production_order_id=order["id"],
            fabric_id=fabric.id or 0,
            supplier=fabric.supplier,
            metres=5,
            expected_at=datetime.now(UTC) + timedelta(days=1),
        )
        s.add(second)
        s.commit()
        second_id = second.id
    reused = await http.post(
        "/v1/fabric-deliveries", json={**note, "purchase_order_id": second_id}, headers=planner
    )
    assert reused.status_code == 409 and reused.json()["field"] == "delivery_ref"
    with platform.session_factory() as s:
        still = s.get(FabricPurchaseOrder, second_id)
        assert still is not None and still.status == PurchaseOrderStatus.ORDERED


async def test_bad_deliveries_are_refused_with_the_field(platform: Platform) -> None:
    planner = platform.auth("planner")
    for body, status, field in [
        ({"purchase_order_id": 999999, "metres": 5, "delivery_ref": "X"}, 404, "purchase_order_id"),
        ({"purchase_order_id": 1, "metres": 0, "delivery_ref": "X"}, 422, "metres"),
        ({"purchase_order_id": 1, "metres": 5, "delivery_ref": ""}, 422, "delivery_ref"),
    ]:
        resp = await platform.http.post("/v1/fabric-deliveries", json=body, headers=planner)
        assert resp.status_code == status, resp.text
        assert field in resp.text
