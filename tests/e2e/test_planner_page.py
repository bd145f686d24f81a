"""The planners' web page in Debian's Chromium (driven by playwright, never a downloaded
browser) against the real processes: sign in, run two scenarios, compare them, apply one,
and be refused applying the other once the live plan moved. The last screen is saved as
a screenshot (to docs/planner.png as well when C2B_SCREENSHOTS is set)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlmodel import Session, select

from c2b.tokens import issue_demo_tokens
from models.schemas import PlanStatus
from models.tables import Plan
from tests.api.test_buyer_flow import line
from tests.conftest import in_one_pass

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: make install installs it"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            # As root, without a GPU, and without reaching for the (closed) network.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


def orders_in_the_plan(url: str, buyer: dict[str, str]) -> None:
    """Three styles picked: three production orders placed in the live plan."""
    lines = [
        line(customer_ref="C-1", style="TS-CREW", colour="white", quantity=150),
        line(customer_ref="C-2", style="TS-LONG", colour="navy", quantity=120),
        line(customer_ref="C-3", style="TS-GRAPHIC", colour="black", quantity=200),
    ]
    with httpx.Client(base_url=url, headers=buyer, timeout=60) as http:
        batch = http.post("/v1/demand-batches", json={"lines": lines}).json()["batch_id"]
        picks = {
            "picks": [
                {"style": "TS-CREW", "colour": "white"},
                {"style": "TS-LONG", "colour": "navy"},
                {"style": "TS-GRAPHIC", "colour": "black"},
            ],
            "close_window": True,
        }
        deadline = time.monotonic() + 60
        while http.post(f"/v1/demand-batches/{batch}/picks", json=picks).status_code != 200:
            assert time.monotonic() < deadline, "the pick window never opened"
            time.sleep(0.3)
        while len(http.get(f"/v1/demand-batches/{batch}").json()["production_orders"]) < 3:
            assert time.monotonic() < deadline, "the orders were never made"
            time.sleep(0.3)


def run_scenario(page: Page, name: str, factory: str = "", rush: str = "") -> str:
    page.fill("input[name=name]", name)
    page.select_option("select[name=down_factory]", factory)
    page.select_option("select[name=rush_style]", rush)
    page.fill("input[name=time_limit]", "3")
    page.click("#run")
    # The page refreshes itself while the scenario solves.
    expect(page.locator("#scenario-status")).to_have_text("done", timeout=60_000)
    expect(page.locator("#scenario-kpis")).to_be_visible()
    return page.url.split("scenario=", 1)[1].split("&", 1)[0]


@pytest.fixture(autouse=True)
def sqlite_pass(db_url: str) -> None:
    """Before the stack and the browser start: what the page shows does not depend on the
    database (tests/api/test_planner_page_http.py runs on both)."""
    in_one_pass(db_url, "sqlite", "the page does not depend on the database")


def test_a_planner_runs_compares_and_applies_scenarios_in_the_browser(
    processes: str, engine: sa.Engine, browser: Browser, tmp_path: Path
) -> None:
    with Session(engine) as session:
        tokens = {t.name.removeprefix("demo:"): t.token for t in issue_demo_tokens(session)}
    orders_in_the_plan(processes, {"Authorization": f"Bearer {tokens['team-nova']}"})

    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.goto(f"{processes}/planner")
    page.fill("#token", tokens["team-nova"])  # a buyer's token is not let in
    page.click("text=Sign in")
    expect(page.get_by_role("alert")).to_contain_text("not a planner's token")
    page.fill("#token", tokens["planner"])
    page.click("text=Sign in")
    expect(page.locator("#kpis")).to_contain_text("open orders")
    # Crew and long-sleeve tees have 3 steps, the graphic tee 4 (it is printed).
    expect(page.locator("#gantt-centres rect.bar")).to_have_count(10)

    down = run_scenario(page, "GZ-KNIT down two days", factory="GZ-KNIT")
    rush = run_scenario(page, "rush of crew tees", rush="TS-CREW")
    page.check(f"input[name=ids][value='{down}']")
    page.check(f"input[name=ids][value='{rush}']")
    page.click("#compare")
    rows = page.locator("#comparison tr")
    expect(rows).to_have_count(6)  # header, live plan, and each scenario with its greedy plan
    expect(page.locator("#comparison")).to_contain_text("rush of crew tees: greedy baseline")

    page.goto(f"{processes}/planner?scenario={down}")
    page.click("#apply")
    expect(page.locator("#message")).to_contain_text("applied: live plan version 2")
    expect(page.locator("#kpis")).to_contain_text("plan version")
    with Session(engine) as session:
        live = session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one()
        assert live.source == f"scenario {down}"

    page.goto(f"{processes}/planner?scenario={rush}")
    page.click("#apply")
    expect(page.locator("#message")).to_contain_text("the live plan moved")

    page.goto(f"{processes}/planner?scenario={down}&compare={down},{rush}")
    shot = tmp_path / "planner.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    if os.environ.get("C2B_SCREENSHOTS"):
        shutil.copy(shot, DOCS / "planner.png")
