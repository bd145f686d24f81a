"""A planner takes a factory down: its open work moves to other factories."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from models.tables import Factory, WorkCentre
from tests.api.conftest import Platform
from tests.api.test_buyer_flow import eventually, line, pick_and_close, submit


async def test_work_waiting_at_a_factory_taken_down_moves_to_another(platform: Platform) -> None:
    http, planner = platform.http, platform.auth("planner")
    batch_id = (await submit(platform, {"lines": [line(quantity=120)]})).json()["batch_id"]
    await pick_and_close(platform, batch_id, {"style": "TS-CREW", "colour": "white"})

    async def released() -> dict[str, Any] | None:
        detail = (
            await http.get(f"/v1/demand-batches/{batch_id}", headers=platform.auth("team-nova"))
        ).json()
        if not detail["production_orders"]:
            return None
        order_id = detail["production_orders"][0]["id"]
        order: dict[str, Any] = (
            await http.get(f"/v1/production-orders/{order_id}", headers=planner)
        ).json()
        return order if any(w["status"] == "released" for w in order["work_orders"]) else None

    order = await eventually(released)
    cut = next(w for w in order["work_orders"] if w["seq"] == 1)
    with platform.session_factory() as s:
        factory = s.get(Factory, cut["factory_id"])
        assert factory is not None
        code = factory.code
        elsewhere = s.exec(select(WorkCentre).where(WorkCentre.factory_id != factory.id)).all()
        assert any("cut" in wc.operation_kinds for wc in elsewhere)

    assert (
        await http.post(
            f"/v1/factories/{code}/down",
            json={"reason": "power cut"},
            headers=platform.auth("team-nova"),
        )
    ).status_code == 403
    assert (
        await http.post("/v1/factories/NOPE/down", json={"reason": "x"}, headers=planner)
    ).status_code == 404
    down = await http.post(
        f"/v1/factories/{code}/down", json={"reason": "power cut"}, headers=planner
    )
    assert down.status_code == 200, down.text
    assert cut["id"] in down.json()["work_orders_to_move"]
    assert down.json()["orders_notified"] == [order["id"]]

    async def moved() -> dict[str, Any] | None:
        r = await http.get(f"/v1/production-orders/{order['id']}", headers=planner)
        now: dict[str, Any] = r.json()
        cuts = [w for w in now["work_orders"] if w["seq"] == 1]
        return now if len(cuts) == 2 and cuts[1]["status"] == "released" else None

    now = await eventually(moved)
    old, new = [w for w in now["work_orders"] if w["seq"] == 1]
    assert old["status"] == "withdrawn" and new["factory_id"] != old["factory_id"]
    reasons = [e["data"]["reason"] for e in now["events"] if e["kind"] == "replanned"]
    assert reasons[0] == f"factory_down: {code} is down: power cut"

    up = await http.post(f"/v1/factories/{code}/up", headers=planner)
    assert up.status_code == 200 and up.json()["is_down"] is False
