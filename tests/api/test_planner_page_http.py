"""The planning page over HTTP, in-process: sign-in, the cookie, who gets in, and the
headers that keep the page from being framed or loading anything from elsewhere. (The
whole run → compare → apply is driven in Chromium by tests/e2e/test_planner_page.py.)"""

from __future__ import annotations

from tests.api.conftest import Platform


async def test_only_a_planner_signs_in_and_the_page_is_locked_down(platform: Platform) -> None:
    http = platform.http
    first = await http.get("/planner")
    assert first.status_code == 200 and "Planner token" in first.text
    assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
    assert first.headers["x-content-type-options"] == "nosniff"

    buyer = await http.post("/planner/sign-in", data={"token": platform.tokens["team-nova"]})
    assert buyer.status_code == 401 and "not a planner&#39;s token" in buyer.text
    assert "set-cookie" not in buyer.headers

    planner = await http.post("/planner/sign-in", data={"token": platform.tokens["planner"]})
    assert planner.status_code == 303 and planner.headers["location"] == "/planner"
    cookie = planner.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/planner" in cookie

    page = await http.get("/planner")  # the client keeps the cookie
    assert page.status_code == 200, page.text
    assert "C2B planning — live plan version 1" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    # The page is no route of the public API.
    assert "/planner" not in (await http.get("/openapi.json")).text

    bad = await http.post(
        "/planner/scenarios", data={"down_factory": "GZ-KNIT", "down_from": "soon", "down_to": ""}
    )
    assert bad.status_code == 422 and "down from: &#39;soon&#39; is not a date and time" in bad.text
    late = await http.post(
        "/planner/scenarios",
        data={
            "overtime_factory": "GZ-KNIT",
            "overtime_from": "2027-03-06T13:00",
            "overtime_to": "x",
        },
    )
    assert late.status_code == 422 and "overtime until: &#39;x&#39;" in late.text

    await http.post("/planner/sign-out")
    assert "Planner token" in (await http.get("/planner")).text


async def test_the_page_lists_applied_periods_and_withdraws_one(platform: Platform) -> None:
    from datetime import UTC, datetime, timedelta

    from tests.api.test_scenarios import finished, order_in_production

    http, planner = platform.http, platform.auth("planner")
    await order_in_production(platform)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    period = {"start": start.isoformat(), "end": (start + timedelta(hours=6)).isoformat()}
    edits = [{"kind": "work_centre_down", "work_centre": "GZ-SEW-1", **period}]
    r = await http.post("/v1/scenarios", json={"edits": edits, "time_limit_s": 2}, headers=planner)
    await finished(platform, r.json()["id"])
    applied = await http.post(f"/v1/scenarios/{r.json()['id']}/apply", headers=planner)
    assert applied.status_code == 200, applied.text

    await http.post("/planner/sign-in", data={"token": platform.tokens["planner"]})
    page = (await http.get("/planner")).text
    assert "Overtime and down periods applied (1)" in page and "GZ-SEW-1 down" in page

    form = {"factory": "GZ-KNIT", "kind": "downtime", **period, "work_centre": "GZ-SEW-1"}
    wrong = await http.post("/planner/calendar/withdraw", data={**form, "kind": "holiday"})
    assert wrong.status_code == 422 and "kind" in wrong.text
    elsewhere = await http.post("/planner/calendar/withdraw", data={**form, "factory": "NB-WOVEN"})
    assert elsewhere.status_code == 422 and "is not one of NB-WOVEN" in elsewhere.text
    done = await http.post("/planner/calendar/withdraw", data=form)
    assert done.status_code == 303 and "withdrawn" in done.headers["location"]
    assert "Overtime and down periods applied (0)" in (await http.get("/planner")).text


async def test_the_page_shows_what_is_out_of_use_and_brings_it_back(platform: Platform) -> None:
    http, planner = platform.http, platform.auth("planner")
    held = await http.post(
        "/v1/work-centres/GZ-SEW-1/hold", json={"reason": "broken needles"}, headers=planner
    )
    assert held.status_code == 200, held.text
    await http.post("/planner/sign-in", data={"token": platform.tokens["planner"]})
    page = (await http.get("/planner")).text
    assert "Out of use (1)" in page and "work centre GZ-SEW-1" in page
    assert "quality hold (demo:planner: broken needles)" in page
    wrong = await http.post("/planner/out-of-use/robot/GZ-SEW-1")
    assert wrong.status_code == 422 and "neither factory nor work-centre" in wrong.text
    unknown = await http.post("/planner/out-of-use/work-centre/NOPE")
    assert unknown.status_code == 404 and "work centre NOPE not found" in unknown.text
    back = await http.post("/planner/out-of-use/work-centre/GZ-SEW-1")
    assert back.status_code == 303 and "back%20in%20use" in back.headers["location"]
    assert "Every factory and work centre is in use" in (await http.get("/planner")).text
