"""A planner takes a factory down, or a work centre is held (a defect spike, or a planner):
its open work moves elsewhere."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from activities.production import DefectSpike
from models.schemas import WorkOrderStatus
from models.tables import Event, Factory, WorkCentre, WorkOrder
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


@pytest.mark.parametrize("fifth", ["bad", "clean"])
async def test_a_defect_spike_holds_a_work_centre_and_its_waiting_work_moves_away(
    platform: Platform, fifth: str
) -> None:
    """Planners hold two of the three cutting tables, so every cut goes to GZ-CUT-1; then
    they release them, and GZ-KNIT cuts four lots with about a third of the pieces
    defective, and a fifth: as bad, or clean (the five still have a fifth defective).
    Either way the fifth completion holds GZ-CUT-1, its answer says so, and the recut
    waiting there moves to another table."""
    from tests.api.test_completion_race import claim
    from tests.api.test_scenarios import order_in_production

    http, planner = platform.http, platform.auth("planner")
    hold = {"reason": "new needles"}
    assert (
        await http.post("/v1/work-centres/NOPE/hold", json=hold, headers=planner)
    ).status_code == 404
    refused = await http.post(
        "/v1/work-centres/NB-CUT-1/hold", json=hold, headers=platform.auth("team-nova")
    )
    assert refused.status_code == 403
    for code in ("NB-CUT-1", "DH-CUT-1"):
        held = await http.post(f"/v1/work-centres/{code}/hold", json=hold, headers=planner)
        assert held.status_code == 200 and held.json()["on_hold"], held.text
    orders = [await order_in_production(platform, quantity=60) for _ in range(3)]
    for code in ("NB-CUT-1", "DH-CUT-1"):
        released = await http.post(f"/v1/work-centres/{code}/release", headers=planner)
        assert released.status_code == 200 and not released.json()["on_hold"]

    knit = platform.auth("GZ-KNIT")
    spike = DefectSpike().completions
    done: list[int] = []  # cuts (GZ-KNIT's one cutting table) completed
    said_held: list[bool] = []  # what each cut's completion answered
    for _ in range(20):
        if len(done) == spike:
            break
        wo = await claim(platform, knit)
        assert wo["production_order_id"] in orders, wo
        sizes = wo["size_breakdown"]
        cut = wo["operation_kind"] == "cut"
        clean = not cut or (fifth == "clean" and len(done) == spike - 1)
        bad = {s: 0 if clean else q // 3 for s, q in sizes.items()}
        body = {
            "good": [{"size": s, "quantity": q - bad[s]} for s, q in sizes.items()],
            "defective": [{"size": s, "quantity": q} for s, q in bad.items() if q],
        }
        url = f"/v1/factory/work-orders/{wo['id']}/complete"
        r = await http.post(url, json=body, headers=knit)
        assert r.status_code == 200, r.text
        if cut:
            done.append(wo["id"])
            said_held.append(r.json()["work_centre_on_hold"])
    assert len(done) == spike
    assert said_held == [False] * (spike - 1) + [True]

    with platform.session_factory() as s:
        centre = s.exec(select(WorkCentre).where(WorkCentre.code == "GZ-CUT-1")).one()
        assert centre.on_hold
        spike = s.exec(select(Event).where(Event.kind == "defect_spike")).one()
        assert spike.entity_id == centre.id
        assert sorted(spike.data["work_orders"]) == sorted(done)

    async def moved() -> list[WorkOrder] | None:
        with platform.session_factory() as s:
            withdrawn = s.exec(
                select(WorkOrder).where(
                    WorkOrder.work_centre_id == centre.id,
                    WorkOrder.status == WorkOrderStatus.WITHDRAWN,
                )
            ).all()
        return list(withdrawn) or None

    gone = await eventually(moved)
    for wo in gone:
        r = await http.get(f"/v1/production-orders/{wo.production_order_id}", headers=planner)
        reasons = [e["data"]["reason"] for e in r.json()["events"] if e["kind"] == "replanned"]
        assert any("GZ-CUT-1 is on a quality hold: defect spike" in why for why in reasons), reasons
    released = await http.post("/v1/work-centres/GZ-CUT-1/release", headers=planner)
    assert released.status_code == 200 and not released.json()["on_hold"]
