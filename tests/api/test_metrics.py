"""``/metrics`` on the real app and database: requests counted by route template, and the
platform's state as the database has it at scrape time."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session, select

from models.schemas import WorkOrderStatus
from models.tables import Event, Scenario, WorkCentre
from tests.api.conftest import Platform
from tests.factories import make_order, make_work_order


async def scrape(platform: Platform) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = await platform.http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


async def test_requests_are_counted_by_route_template(platform: Platform) -> None:
    for _ in range(2):
        await platform.http.get("/health")
    await platform.http.get("/v1/production-orders/7", headers=platform.auth("team-nova"))
    await platform.http.get("/v1/production-orders/8")  # no token: 401
    await platform.http.get("/no/such/path/4711")
    seen = await scrape(platform)

    def requests(method: str, route: str, status: str) -> float:
        labels = (("method", method), ("route", route), ("status", status))
        return seen.get(("c2b_http_requests_total", labels), 0.0)

    assert requests("GET", "/health", "200") == 2
    assert requests("GET", "/v1/production-orders/{order_id}", "404") == 1
    assert requests("GET", "/v1/production-orders/{order_id}", "401") == 1
    assert requests("GET", "unmatched", "404") == 1
    timed = ("c2b_http_request_duration_seconds_count", (("method", "GET"), ("route", "/health")))
    assert seen[timed] == 2
    # Nothing the scanner made up became a series of its own.
    assert not [key for key in seen if "4711" in str(key)]


async def test_the_platforms_state_is_read_at_scrape_time(
    platform: Platform, session: Session, team_id: int
) -> None:
    order = make_order(session, team_id)
    make_work_order(session, order)
    make_work_order(session, order, seq=2, status=WorkOrderStatus.PLANNED)
    make_work_order(session, order, seq=3, status=WorkOrderStatus.PLANNED)
    for wo_id in (1, 2):
        session.add(
            Event(actor="leases", entity="work_order", entity_id=wo_id, kind="lease_expired")
        )
    session.add(
        Scenario(
            created_by="planner",
            base_plan_version=1,
            base_revision=1,
            progress={"elapsed_s": 4.5, "gap": 0.125, "solutions": 3},
        )
    )
    session.commit()
    seen = await scrape(platform)
    assert seen[("c2b_work_orders", (("status", "released"),))] == 1
    assert seen[("c2b_work_orders", (("status", "planned"),))] == 2
    assert seen[("c2b_lease_expiries_total", ())] == 2
    assert seen[("c2b_scenarios", (("status", "queued"),))] == 1
    assert seen[("c2b_solver_seconds_total", ())] == 4.5
    assert seen[("c2b_solver_last_gap", ())] == 0.125
    assert (seen[("c2b_factories_down", ())], seen[("c2b_work_centres_on_hold", ())]) == (0, 0)
    held = session.exec(select(WorkCentre).where(WorkCentre.code == "GZ-CUT-1")).one()
    held.on_hold = True
    session.commit()
    assert (await scrape(platform))[("c2b_work_centres_on_hold", ())] == 1
