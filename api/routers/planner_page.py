"""The planners' web page, server-rendered: the live plan as a Gantt chart by work centre
and by order (late orders in red, with what held them back), KPI cards, scenarios (run,
watch, compare, apply) and the chain's lead time beside the traditional chain.

No JavaScript: forms post and redirect, and a page with a solve in progress refreshes
itself every second. Sign-in puts a planner's token in an HttpOnly, SameSite=Strict
cookie; the routes behind it are the JSON API's own functions, called directly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Cookie, Form, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from sqlmodel import Session, col, select

from api.deps import (
    Principal,
    ReleasingRoute,
    RuntimeDep,
    SessionDep,
    TemporalDep,
    client_of,
    principal_of,
    read_and_release,
)
from api.routers.analytics import chain_lead_time
from api.routers.planning import (
    WithdrawIn,
    factory_calendar,
    factory_up,
    hold_reason,
    release_work_centre,
    withdraw_period,
)
from api.routers.scenarios import (
    apply_scenario,
    cancel_scenario,
    compare_scenarios,
    create_scenario,
    view_of,
)
from models.errors import DomainError, InvalidInput
from models.rules import due_end, hours_past
from models.scenarios import ScenarioRequest
from models.schemas import OPEN_ORDER_STATUSES, PlanStatus, Role, RowId
from models.tables import (
    Factory,
    Plan,
    PlanAssignment,
    ProductionOrder,
    Scenario,
    Style,
    WorkCentre,
)

router = APIRouter(prefix="/planner", include_in_schema=False, route_class=ReleasingRoute)
# The page loads nothing from elsewhere and runs no script; its styles are inline.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
templates = Jinja2Templates(directory=Path(__file__).resolve().parents[1] / "templates")
COOKIE = "c2b_planner"
GANTT_DAYS = 21  # how far ahead the chart reaches
ORDER_ROWS = 40  # orders shown in the chart by order
Token = Annotated[str | None, Cookie(alias=COOKIE)]


async def _planner(
    request: Request, runtime: Any, session: Session, token: str | None
) -> Principal | None:
    if not token:
        return None
    principal = await principal_of(runtime, session, token, client_of(request))
    if principal is None or principal.role not in (Role.PLANNER, Role.ADMIN):
        return None
    return principal


# ---------------------------------------------------------------- the live plan


@dataclass
class Bar:
    order_id: int
    seq: int
    work_centre: str
    start: datetime
    end: datetime
    late: bool = False


@dataclass
class LiveOrder:
    id: int
    label: str
    due: datetime | None
    bars: list[Bar] = field(default_factory=list)

    @property
    def finish(self) -> datetime:
        return max(b.end for b in self.bars)

    @property
    def late_hours(self) -> float:
        return hours_past(self.finish, self.due)


def live_plan(session: Session) -> tuple[Plan | None, list[str], list[LiveOrder]]:
    """The live plan's version, its work centres (by factory) and its open orders."""
    plan = session.exec(select(Plan).where(Plan.status == PlanStatus.LIVE)).one_or_none()
    centres = session.exec(
        select(WorkCentre).order_by(col(WorkCentre.factory_id), col(WorkCentre.code))
    ).all()
    names = [wc.code for wc in centres]
    if plan is None:
        return None, names, []
    code_of = {wc.id: wc.code for wc in centres}
    rows = session.exec(
        select(PlanAssignment, ProductionOrder)
        .join(ProductionOrder, col(ProductionOrder.id) == col(PlanAssignment.production_order_id))
        .where(
            PlanAssignment.plan_id == plan.id,
            col(ProductionOrder.status).in_(OPEN_ORDER_STATUSES),
        )
        .order_by(col(PlanAssignment.production_order_id), col(PlanAssignment.seq))
    ).all()
    orders: dict[int, LiveOrder] = {}
    for a, o in rows:
        due = due_end(o.due_date) if o.due_date else None
        live = orders.setdefault(
            o.id or 0, LiveOrder(o.id or 0, f"#{o.id} {o.style_code} {o.colour} ×{o.quantity}", due)
        )
        live.bars.append(Bar(o.id or 0, a.seq, code_of[a.work_centre_id], a.start, a.end))
    for live in orders.values():
        for bar in live.bars:
            bar.late = live.late_hours > 0
    return plan, names, list(orders.values())


def late_reasons(order: LiveOrder, all_bars: list[Bar], now: datetime) -> list[str]:
    """What holds a late order back in the live plan: each wait before one of its
    operations, and the orders that had the work centre meanwhile."""
    by_centre: dict[str, list[Bar]] = {}
    for bar in all_bars:
        by_centre.setdefault(bar.work_centre, []).append(bar)
    reasons = [
        f"due {order.due:%a %d %b}, finishes {order.finish:%a %d %b %H:%M} "
        f"({order.late_hours:g} h late)"
        if order.due
        else "no due date"
    ]
    ready = now
    for bar in sorted(order.bars, key=lambda b: b.seq):
        wait = (bar.start - max(ready, now)).total_seconds() / 3600
        if wait >= 1:
            ahead = sorted(
                {
                    other.order_id
                    for other in by_centre[bar.work_centre]
                    if other.order_id != order.id and other.end > ready and other.start < bar.start
                }
            )
            behind = ", ".join(f"#{i}" for i in ahead[:4]) + (" …" if len(ahead) > 4 else "")
            reasons.append(
                f"operation {bar.seq} waits {wait:.0f} h for {bar.work_centre}"
                + (f", busy with {behind}" if behind else "")
            )
        ready = bar.end
    if len(reasons) == 1:
        reasons.append("its operations alone take longer than the time left to its due date")
    return reasons


@dataclass
class Chart:
    """An SVG Gantt chart: rows of bars on a time axis from ``start`` to ``end``."""

    start: datetime
    end: datetime
    rows: list[tuple[str, list[Bar], bool]]  # label, bars, whether the row is late
    width: int = 1100
    label_width: int = 190
    row_height: int = 18

    def x(self, at: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1
        share = (min(max(at, self.start), self.end) - self.start).total_seconds() / span
        return round(self.label_width + share * (self.width - self.label_width - 10), 1)

    @property
    def height(self) -> int:
        return 30 + self.row_height * len(self.rows)

    def days(self) -> list[tuple[float, str]]:
        first = datetime.combine(self.start.date(), time(), UTC) + timedelta(days=1)
        ticks, day = [], first
        while day < self.end:
            ticks.append((self.x(day), f"{day:%d %b}"))
            day += timedelta(days=1)
        step = max(1, len(ticks) // 14)
        return ticks[::step]


def colour_of(order_id: int) -> str:
    hue = int(hashlib.sha256(str(order_id).encode()).hexdigest()[:4], 16) % 360
    return f"hsl({hue} 55% 62%)"


def charts(names: list[str], orders: list[LiveOrder], now: datetime) -> tuple[Chart, Chart]:
    bars = [b for o in orders for b in o.bars]
    end = max([b.end for b in bars] + [now + timedelta(days=2)])
    end = min(end, now + timedelta(days=GANTT_DAYS))
    start = now - timedelta(hours=6)
    by_centre = Chart(
        start,
        end,
        [(name, [b for b in bars if b.work_centre == name], False) for name in names],
    )
    soonest = sorted(orders, key=lambda o: (o.late_hours == 0, o.finish))[:ORDER_ROWS]
    by_order = Chart(start, end, [(o.label, o.bars, o.late_hours > 0) for o in soonest])
    return by_centre, by_order


# ---------------------------------------------------------------- routes


@router.get("", response_class=HTMLResponse)
async def page(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Token = None,
    scenario: RowId | None = None,
    compare: str | None = None,
    message: str | None = None,
) -> Response:
    principal = await _planner(request, runtime, session, token)
    if principal is None:
        return templates.TemplateResponse(
            request,
            "planner_sign_in.html",
            {"error": "" if not token else "that token is not a planner's"},
            headers=SECURITY_HEADERS,
        )
    return await render(request, session, principal, scenario, compare, message)


async def render(
    request: Request,
    session: Session,
    principal: Principal,
    scenario_id: int | None,
    compare: str | None,
    message: str | None,
    status_code: int = 200,
) -> Response:
    """The planning page, read and rendered in a worker thread (it reads the whole live
    plan), the session closed after."""
    return await read_and_release(
        session, _render, request, principal, scenario_id, compare, message, status_code
    )


def _render(
    session: Session,
    request: Request,
    principal: Principal,
    scenario_id: int | None,
    compare: str | None,
    message: str | None,
    status_code: int,
) -> Response:
    now = datetime.now(UTC)
    plan, names, orders = live_plan(session)
    all_bars = [b for o in orders for b in o.bars]
    late = sorted((o for o in orders if o.late_hours > 0), key=lambda o: -o.late_hours)
    by_centre, by_order = charts(names, orders, now)
    scenarios = [
        view_of(s, plan)
        for s in session.exec(select(Scenario).order_by(col(Scenario.id).desc()).limit(15)).all()
    ]
    selected = next((s for s in scenarios if s.id == scenario_id), None)
    if selected is None and scenario_id is not None:
        row = session.get(Scenario, scenario_id)
        selected = view_of(row, plan) if row else None
    comparison = None
    if compare:
        try:
            comparison = compare_scenarios(principal, session, compare)
        except DomainError as err:
            message = err.message
    lead = chain_lead_time(principal, session, shipped_only=True, limit=200)
    factories = list(session.exec(select(Factory.code).order_by(col(Factory.code))).all())
    calendars = [factory_calendar(code, principal, session) for code in factories]
    context = {
        "principal": principal,
        "now": now,
        "plan": plan,
        "orders": orders,
        "late": [(o, late_reasons(o, all_bars, now)) for o in late[:15]],
        "late_count": len(late),
        "operations": len(all_bars),
        "on_time_pct": round(100 * (len(orders) - len(late)) / len(orders), 1) if orders else 100.0,
        "by_centre": by_centre,
        "by_order": by_order,
        "colour_of": colour_of,
        "scenarios": scenarios,
        "selected": selected,
        "solving": selected is not None and selected.status in ("queued", "solving"),
        "comparison": comparison,
        "message": message,
        "factories": factories,
        "down_factories": [c.code for c in calendars if c.is_down],
        "held_centres": [
            (wc.code, hold_reason(session, wc.id or 0))
            for wc in session.exec(
                select(WorkCentre).where(col(WorkCentre.on_hold)).order_by(col(WorkCentre.code))
            ).all()
        ],
        "applied_periods": [
            (c.code, kind, centre, p)
            for c in calendars
            for kind, centre, periods in [
                ("overtime", None, c.overtime),
                ("downtime", None, c.downtime),
                *(("downtime", wc, ps) for wc, ps in c.work_centre_downtime.items()),
            ]
            for p in periods
        ],
        "styles": list(session.exec(select(Style.code).order_by(col(Style.code))).all()),
        "lead": lead,
        "default_from": now.strftime("%Y-%m-%dT%H:%M"),
        "default_to": (now + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
        "default_overtime_to": (now + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"),
        "default_due": (now + timedelta(days=5)).strftime("%Y-%m-%d"),
    }
    return templates.TemplateResponse(
        request, "planner.html", context, status_code=status_code, headers=SECURITY_HEADERS
    )


@router.get("/compare")
async def compare(ids: Annotated[list[int], Query()] = []) -> Response:  # noqa: B006
    """The compare form's checkboxes, as the page's ``compare`` parameter."""
    target = f"/planner?compare={','.join(map(str, ids))}" if ids else "/planner"
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


@router.post("/sign-in")
async def sign_in(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Annotated[str, Form()],
) -> Response:
    if await _planner(request, runtime, session, token.strip()) is None:
        return templates.TemplateResponse(
            request,
            "planner_sign_in.html",
            {"error": "that is not a planner's token"},
            status_code=status.HTTP_401_UNAUTHORIZED,
            headers=SECURITY_HEADERS,
        )
    response = RedirectResponse("/planner", status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(COOKIE, token.strip(), httponly=True, samesite="strict", path="/planner")
    return response


@router.post("/sign-out")
async def sign_out() -> Response:
    response = RedirectResponse("/planner", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE, path="/planner")
    return response


def _utc(value: str, what: str) -> str:
    """A datetime-local or date field, read as UTC, as ISO 8601."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{what}: {value!r} is not a date and time", field=what) from None
    return parsed.replace(tzinfo=parsed.tzinfo or UTC).isoformat()


@router.post("/scenarios")
async def run(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    client: TemporalDep,
    token: Token = None,
    name: Annotated[str, Form()] = "",
    down_factory: Annotated[str, Form()] = "",
    down_from: Annotated[str, Form()] = "",
    down_to: Annotated[str, Form()] = "",
    overtime_factory: Annotated[str, Form()] = "",
    overtime_from: Annotated[str, Form()] = "",
    overtime_to: Annotated[str, Form()] = "",
    rush_style: Annotated[str, Form()] = "",
    rush_quantity: Annotated[int | None, Form()] = None,
    rush_due: Annotated[str, Form()] = "",
    time_limit: Annotated[float, Form()] = 10.0,
) -> Response:
    principal = await _planner(request, runtime, session, token)
    if principal is None:
        return _to_page()
    edits: list[dict[str, Any]] = []
    try:
        for kind, what, factory, start, end in (
            ("factory_down", "down", down_factory, down_from, down_to),
            ("overtime", "overtime", overtime_factory, overtime_from, overtime_to),
        ):
            if factory:
                edits.append(
                    {
                        "kind": kind,
                        "factory": factory,
                        "start": _utc(start, f"{what} from"),
                        "end": _utc(end, f"{what} until"),
                    }
                )
        if rush_style:
            edits.append(
                {
                    "kind": "rush",
                    "style": rush_style,
                    "quantity": rush_quantity or 0,
                    "due": _utc(rush_due, "rush due"),
                }
            )
        body = ScenarioRequest.model_validate(
            {"name": name, "edits": edits, "time_limit_s": time_limit}
        )
        view = await create_scenario(session, client, runtime, body, principal.name)
    except ValidationError as err:
        return await _invalid(request, session, principal, err)
    except DomainError as err:
        return await render(request, session, principal, None, None, *_refusal(err))
    return _to_page(scenario=view.id)


@router.post("/scenarios/{scenario_id}/apply")
async def apply(
    request: Request,
    scenario_id: RowId,
    runtime: RuntimeDep,
    session: SessionDep,
    client: TemporalDep,
    token: Token = None,
) -> Response:
    principal = await _planner(request, runtime, session, token)
    if principal is None:
        return _to_page()
    try:
        result = await apply_scenario(scenario_id, principal, session, client)
    except (DomainError, HTTPException) as err:
        return await render(request, session, principal, scenario_id, None, *_refusal(err))
    return _to_page(f"applied: {result.summary()}", scenario_id)


def _to_page(message: str | None = None, scenario: int | None = None) -> Response:
    """Back to the planning page (303), showing ``scenario`` and saying ``message``."""
    query = [f"scenario={scenario}"] if scenario is not None else []
    query += [f"message={quote(message)}"] if message else []
    target = "/planner" + (f"?{'&'.join(query)}" if query else "")
    return RedirectResponse(target, status_code=status.HTTP_303_SEE_OTHER)


async def _invalid(
    request: Request, session: Session, principal: Principal, err: ValidationError
) -> Response:
    """The page again, with each field's problem: 422."""
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors())
    return await render(
        request, session, principal, None, None, problems, status.HTTP_422_UNPROCESSABLE_CONTENT
    )


def _refusal(err: DomainError | HTTPException) -> tuple[str, int]:
    """The message and status of an API function's refusal, to show on the page."""
    if isinstance(err, DomainError):
        return err.message, err.status
    return str(err.detail), err.status_code


@router.post("/scenarios/{scenario_id}/cancel")
async def cancel(
    request: Request,
    scenario_id: RowId,
    runtime: RuntimeDep,
    session: SessionDep,
    client: TemporalDep,
    token: Token = None,
) -> Response:
    principal = await _planner(request, runtime, session, token)
    if principal is None:
        return _to_page()
    try:
        await cancel_scenario(scenario_id, principal, session, client)
    except (DomainError, HTTPException) as err:
        return await render(request, session, principal, scenario_id, None, *_refusal(err))
    return _to_page(scenario=scenario_id)


@router.post("/calendar/withdraw")
async def withdraw(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Token = None,
    factory: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    end: Annotated[str, Form()] = "",
    work_centre: Annotated[str, Form()] = "",
) -> Response:
    """Take back an overtime or down period a scenario applied (the calendar's table)."""
    principal = await _planner(request, runtime, session, token)
    if principal is None:
        return _to_page()
    try:
        body = WithdrawIn.model_validate(
            {"kind": kind, "start": start, "end": end, "work_centre": work_centre or None}
        )
        await run_in_threadpool(withdraw_period, factory, body, principal, session)
    except ValidationError as err:
        return await _invalid(request, session, principal, err)
    except DomainError as err:
        return await render(request, session, principal, None, None, *_refusal(err))
    when = "%a %d %b %H:%M UTC"
    said = (
        f"withdrawn: {kind} of {work_centre or factory} from "
        f"{body.start.astimezone(UTC).strftime(when)} to {body.end.astimezone(UTC).strftime(when)}"
    )
    return _to_page(said)


@router.post("/out-of-use/{kind}/{code}")
async def back_in_use(
    request: Request,
    kind: str,
    code: str,
    runtime: RuntimeDep,
    session: SessionDep,
    token: Token = None,
) -> Response:
    """Bring a factory marked down back up, or release a work centre's quality hold."""
    principal = await _planner(request, runtime, session, token)
    if principal is None:
        return _to_page()
    try:
        if kind == "factory":
            await run_in_threadpool(factory_up, code, principal, session)
        elif kind == "work-centre":
            await run_in_threadpool(release_work_centre, code, principal, session)
        else:
            raise InvalidInput(f"{kind!r} is neither factory nor work-centre", field="kind")
    except DomainError as err:
        return await render(request, session, principal, None, None, *_refusal(err))
    said = f"{code} is back in use: new work may be placed there"
    return _to_page(said)
