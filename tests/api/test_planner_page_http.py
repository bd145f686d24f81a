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
