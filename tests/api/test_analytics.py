"""Chain lead time over HTTP, from a batch driven to shipment on the real dev server."""

from __future__ import annotations

from sqlmodel import select

from models.tables import Factory
from tests.api.conftest import Platform
from tests.api.test_walking_skeleton import drive_batch_to_done


async def test_the_lead_time_of_a_shipped_order_runs_from_intake_to_shipment(
    platform: Platform,
) -> None:
    with platform.session_factory() as s:
        codes = {f.id or 0: f.code for f in s.exec(select(Factory))}
    auth = {name: platform.auth(name) for name in platform.tokens}
    final = await drive_batch_to_done(platform.http, auth, codes)

    r = await platform.http.get("/v1/analytics/lead-time", headers=auth["planner"])
    assert r.status_code == 200, r.text
    report = r.json()
    (order,) = report["orders"]
    assert order["production_order_id"] == final["id"] and order["status"] == "done"
    milestones = [order["at"][m] for m in ("intake", "pick", "fabric_ready")] + [
        order["at"][m] for m in ("first_operation", "last_operation", "shipped")
    ]
    assert None not in milestones and milestones == sorted(milestones)
    stages = [k for k in order["hours"] if k != "total"]
    assert len(stages) == 5
    assert abs(sum(order["hours"][k] for k in stages) - order["hours"]["total"]) < 0.01
    # customer -> team -> platform -> each factory in routing order -> customer
    route = [w["factory_id"] for w in sorted(final["work_orders"], key=lambda w: w["seq"])]
    stops = [f for i, f in enumerate(route) if i == 0 or route[i - 1] != f]
    assert order["hand_offs"] == 3 + len(stops)
    assert report["summary"]["total"]["orders"] == 1
    assert report["traditional_chain"][0] == "brand" and len(report["traditional_chain"]) == 7

    theirs = await platform.http.get("/v1/analytics/lead-time", headers=auth["team-ridge"])
    assert theirs.status_code == 200 and theirs.json()["orders"] == []
    mine = await platform.http.get("/v1/analytics/lead-time", headers=auth["team-nova"])
    assert [o["production_order_id"] for o in mine.json()["orders"]] == [final["id"]]
    factory = await platform.http.get("/v1/analytics/lead-time", headers=auth["GZ-KNIT"])
    assert factory.status_code == 403
