"""``c2b scenario``: a planner's what-ifs against the running API (HTTP with the planner's
token, like any client): run one with a live display of the solve, compare, apply.

Times in edits are a date (2027-03-01, midnight UTC), ``now``, or an offset from now
(``+6h``, ``+2d``), so they never hold the ``:`` that separates an edit's parts.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from c2b.demand_cli import ApiUrl, api_client, call_api, refusal
from models.scenarios import ApplyResult

scenario_app = typer.Typer(
    help="Planners: what-if scenarios on the live plan, compared and applied (uses the API).",
    no_args_is_help=True,
)
console = Console()
Token = Annotated[
    str,
    typer.Option(
        envvar="C2B_TOKEN", help="A planner's bearer token (c2b token create --role planner)."
    ),
]
OFFSET = re.compile(r"^\+(\d+(?:\.\d+)?)([hd])$")
KPI_COLUMNS = [
    ("objective", "objective"),
    ("on_time_pct", "on time %"),
    ("total_tardiness_h", "tardiness h"),
    ("max_tardiness_h", "max late h"),
    ("makespan_h", "makespan h"),
    ("mean_lead_time_h", "lead time h"),
    ("transfers", "transfers"),
    ("late_orders", "late"),
]


def when(text: str, what: str) -> str:
    """An edit's time as ISO 8601 (UTC); a clear error naming ``what`` otherwise."""
    now = datetime.now(UTC)
    if text == "now":
        return now.isoformat()
    offset = OFFSET.match(text)
    if offset:
        amount, unit = float(offset[1]), offset[2]
        return (now + timedelta(hours=amount if unit == "h" else amount * 24)).isoformat()
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter(
            f"{what}: {text!r} is not a date (YYYY-MM-DD), 'now' or an offset (+6h, +2d)"
        ) from None
    return day.isoformat()


def parts(text: str, names: list[str], option: str, optional: int = 0) -> list[str]:
    found = text.split(":")
    if not len(names) - optional <= len(found) <= len(names):
        raise typer.BadParameter(f"{option} {text!r}: expected {':'.join(names)}")
    return found + [""] * (len(names) - len(found))


def period_edits(texts: list[str], option: str, kind: str, key: str) -> list[dict[str, Any]]:
    """``--down`` / ``--wc-down`` / ``--overtime`` NAME:FROM:TO as edits of ``kind``."""
    name = key.upper()
    edits = []
    for text in texts:
        what, start, end = parts(text, [name, "FROM", "TO"], option)
        edits.append(
            {
                "kind": kind,
                key: what,
                "start": when(start, f"{option} FROM"),
                "end": when(end, f"{option} TO"),
            }
        )
    return edits


def edits_of(
    down: list[str],
    wc_down: list[str],
    rush: list[str],
    capacity: list[str],
    due: list[str],
    delay: list[str],
    overtime: list[str],
) -> list[dict[str, Any]]:
    edits: list[dict[str, Any]] = [
        *period_edits(down, "--down", "factory_down", "factory"),
        *period_edits(wc_down, "--wc-down", "work_centre_down", "work_centre"),
        *period_edits(overtime, "--overtime", "overtime", "factory"),
    ]
    for text in rush:
        style, qty, due_at, colour = parts(text, ["STYLE", "QTY", "DUE", "COLOUR"], "--rush", 1)
        if not qty.isdigit():
            raise typer.BadParameter(f"--rush {text!r}: QTY {qty!r} is not a whole number")
        edits.append(
            {
                "kind": "rush",
                "style": style,
                "quantity": int(qty),
                "colour": colour,
                "due": when(due_at, "--rush DUE"),
            }
        )
    for text in capacity:
        centre, lanes = parts(text, ["WORK_CENTRE", "CAPACITY"], "--capacity")
        if not lanes.isdigit():
            raise typer.BadParameter(f"--capacity {text!r}: {lanes!r} is not a whole number")
        edits.append({"kind": "capacity", "work_centre": centre, "capacity": int(lanes)})
    for text in due:
        order, due_at = parts(text, ["ORDER", "DUE"], "--due")
        edits.append(
            {
                "kind": "due_date",
                "production_order_id": _order(order, "--due"),
                "due": when(due_at, "--due DUE"),
            }
        )
    for text in delay:
        order, until = parts(text, ["ORDER", "UNTIL"], "--fabric-delay")
        edits.append(
            {
                "kind": "fabric_delay",
                "production_order_id": _order(order, "--fabric-delay"),
                "until": when(until, "--fabric-delay UNTIL"),
            }
        )
    return edits


def _order(text: str, option: str) -> int:
    if not text.isdigit():
        raise typer.BadParameter(f"{option}: ORDER {text!r} is not a production order id")
    return int(text)


def progress_table(s: dict[str, Any]) -> Table:
    p = s.get("progress") or {}
    table = Table(title=f"scenario {s['id']} {s['name']}".strip(), show_header=False)
    table.add_row("status", s["status"])
    table.add_row("elapsed", f"{p.get('elapsed_s', 0):.1f} s of {s['time_limit_s']:.0f} s")
    table.add_row("best objective", _num(p.get("objective")))
    table.add_row("bound", _num(p.get("best_bound")))
    gap = p.get("gap")
    table.add_row("gap", f"{100 * gap:.1f} %" if gap is not None else "-")
    table.add_row("solutions", str(p.get("solutions", 0)))
    return table


def _num(value: float | None) -> str:
    return f"{value:,.1f}" if value is not None else "-"


def kpi_table(rows: list[tuple[str, dict[str, Any]]], title: str = "KPIs") -> Table:
    table = Table(title=title)
    table.add_column("plan", no_wrap=True)
    for _, label in KPI_COLUMNS:
        table.add_column(label, justify="right")
    for name, kpis in rows:
        table.add_row(name, *(_cell(kpis.get(key)) for key, _ in KPI_COLUMNS))
    return table


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def result_view(s: dict[str, Any]) -> Group:
    parts_: list[Any] = []
    if s.get("kpis"):
        parts_.append(
            kpi_table(
                [
                    ("live plan", s["live_kpis"]),
                    (s["name"] or f"scenario {s['id']}", s["kpis"]),
                    ("greedy baseline", s["greedy_kpis"]),
                ]
            )
        )
    diff = s.get("diff") or {}
    if diff:
        moved = f"{diff['operations_moved']} of {diff['operations']} operations moved; "
        parts_.append(
            f"{moved}{len(diff['earlier'])} orders finish earlier, {len(diff['later'])} later"
        )
        shifts = Table(title="orders that move most")
        for column in ("order", "live finish", "scenario finish", "hours"):
            shifts.add_column(column)
        for shift in sorted(diff["earlier"] + diff["later"], key=lambda x: -abs(x["hours"]))[:8]:
            shifts.add_row(
                str(shift["production_order_id"]),
                shift["live_finish"][:16],
                shift["scenario_finish"][:16],
                f"{shift['hours']:+.1f}",
            )
        if diff["earlier"] or diff["later"]:
            parts_.append(shifts)
    if s.get("late_orders"):
        late = Table(title="late orders and why")
        late.add_column("order")
        late.add_column("late h", justify="right")
        late.add_column("held back by", overflow="fold")
        for row in s["late_orders"][:8]:
            late.add_row(row["order"], f"{row['tardiness_h']:.1f}", "; ".join(row["reasons"]))
        parts_.append(late)
    if s.get("stopped_early"):
        parts_.append("[yellow]stopped early: the best plan found so far[/]")
    if s.get("error"):
        parts_.append(f"[red]{s['error']}[/]")
    return Group(*parts_)


@scenario_app.command("run")
def run(
    token: Token,
    down: Annotated[list[str], typer.Option("--down", help="FACTORY:FROM:TO")] = [],  # noqa: B006
    wc_down: Annotated[list[str], typer.Option("--wc-down", help="WORK_CENTRE:FROM:TO")] = [],  # noqa: B006
    overtime: Annotated[list[str], typer.Option("--overtime", help="FACTORY:FROM:TO")] = [],  # noqa: B006
    rush: Annotated[list[str], typer.Option("--rush", help="STYLE:QTY:DUE[:COLOUR]")] = [],  # noqa: B006
    capacity: Annotated[list[str], typer.Option("--capacity", help="WORK_CENTRE:N")] = [],  # noqa: B006
    due: Annotated[list[str], typer.Option("--due", help="ORDER:DUE")] = [],  # noqa: B006
    delay: Annotated[list[str], typer.Option("--fabric-delay", help="ORDER:UNTIL")] = [],  # noqa: B006
    weight: Annotated[
        list[str], typer.Option("--weight", help="TERM=VALUE, e.g. makespan=0.5")
    ] = [],  # noqa: B006
    name: Annotated[str, typer.Option(help="A name to compare it by.")] = "",
    time_limit: Annotated[float, typer.Option(help="Seconds the solver may take.")] = 20.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    api_url: ApiUrl = None,
) -> None:
    """Run a scenario with a live view of the solve (Ctrl-C stops it and keeps the best
    plan so far), then its KPIs against the live plan and the greedy baseline."""
    weights: dict[str, float] = {}
    for text in weight:
        term, _, value = text.partition("=")
        try:
            weights[term] = float(value)
        except ValueError:
            raise typer.BadParameter(f"--weight {text!r}: expected TERM=NUMBER") from None
    body = {
        "name": name,
        "edits": edits_of(down, wc_down, rush, capacity, due, delay, overtime),
        "time_limit_s": time_limit,
        **({"weights": weights} if weights else {}),
    }
    with api_client(api_url, token) as http:
        created = http.post("/v1/scenarios", json=body)
        if created.status_code != 202:
            raise refusal(created)
        scenario = created.json()
        scenario = follow(http, scenario, quiet=as_json)
    if as_json:
        console.print_json(json.dumps(scenario))
        return
    console.print()
    console.print(result_view(scenario))
    if scenario["status"] == "done":
        console.print(f"apply it with: c2b scenario apply {scenario['id']}")


def follow(http: httpx.Client, scenario: dict[str, Any], quiet: bool) -> dict[str, Any]:
    """Poll the scenario until it ends, showing its progress; Ctrl-C stops the solve."""
    path = f"/v1/scenarios/{scenario['id']}"
    shown = Console(quiet=True) if quiet else console
    with Live(progress_table(scenario), console=shown) as live:
        stopping = False
        while scenario["status"] in ("queued", "solving"):
            try:
                time.sleep(0.5)
                r = http.get(path)
                if r.status_code != 200:
                    raise refusal(r)
                scenario = r.json()
                live.update(progress_table(scenario))
            except KeyboardInterrupt:
                if stopping:
                    raise
                stopping = True
                http.post(f"{path}/cancel")
    return scenario


@scenario_app.command("show")
def show(scenario_id: int, token: Token, api_url: ApiUrl = None) -> None:
    """A scenario's status, KPIs, what it moves and its late orders."""
    scenario = call_api(api_url, token, "GET", f"/v1/scenarios/{scenario_id}")
    console.print(progress_table(scenario))
    console.print(result_view(scenario))


@scenario_app.command("list")
def list_(token: Token, api_url: ApiUrl = None) -> None:
    """The latest scenarios."""
    rows = call_api(api_url, token, "GET", "/v1/scenarios")
    table = Table(title="scenarios")
    for column in ("id", "name", "status", "by", "objective", "on time %"):
        table.add_column(column)
    for s in rows:
        kpis = s.get("kpis") or {}
        table.add_row(
            str(s["id"]),
            s["name"],
            s["status"],
            s["created_by"],
            _cell(kpis.get("objective", "-")),
            _cell(kpis.get("on_time_pct", "-")),
        )
    console.print(table)


@scenario_app.command("compare")
def compare(scenario_ids: list[int], token: Token, api_url: ApiUrl = None) -> None:
    """The KPI table of several scenarios, the live plan and the greedy baselines."""
    ids = ",".join(map(str, scenario_ids))
    body = call_api(api_url, token, "GET", f"/v1/scenarios/compare?ids={ids}")
    console.print(kpi_table([(row["plan"], row["kpis"]) for row in body["rows"]], "compare"))


@scenario_app.command("apply")
def apply(scenario_id: int, token: Token, api_url: ApiUrl = None) -> None:
    """Make the scenario's plan the live plan, keeping what was placed or changed since
    its snapshot (refused if that collides with it, or another plan was applied)."""
    with api_client(api_url, token) as http:
        r = http.post(f"/v1/scenarios/{scenario_id}/apply")
    if r.status_code != 200:
        raise refusal(r)
    result = ApplyResult.model_validate(r.json())
    told = ", ".join(map(str, result.orders_notified)) or "none"
    console.print(f"[green]applied[/]: {result.summary()}; orders told: {told}")


@scenario_app.command("cancel")
def cancel(scenario_id: int, token: Token, api_url: ApiUrl = None) -> None:
    """Stop a solve (its best plan so far is kept) or drop a finished scenario."""
    scenario = call_api(api_url, token, "POST", f"/v1/scenarios/{scenario_id}/cancel")
    console.print(f"scenario {scenario_id}: {scenario['status']}")


def listed_periods(calendar: dict[str, Any]) -> list[tuple[str, str | None, dict[str, str]]]:
    """A factory calendar's applied periods in the order ``calendar`` numbers them:
    (kind, work centre or None, {"start", "end"})."""
    rows: list[tuple[str, str | None, dict[str, str]]] = [
        *(("overtime", None, p) for p in calendar["overtime"]),
        *(("downtime", None, p) for p in calendar["downtime"]),
    ]
    for centre, periods in sorted(calendar["work_centre_downtime"].items()):
        rows += [("downtime", centre, p) for p in periods]
    return rows


@scenario_app.command("calendar")
def calendar(factory: str, token: Token, api_url: ApiUrl = None) -> None:
    """A factory's shifts, and the overtime and down periods applied with scenarios,
    numbered for ``c2b scenario withdraw``."""
    cal = call_api(api_url, token, "GET", f"/v1/factories/{factory}/calendar")
    shifts = ", ".join(
        f"{s['start'][:5]}-{s['end'][:5]} on days {','.join(map(str, s['weekdays']))}"
        for s in cal["shifts"]
    )
    console.print(
        f"{cal['code']} ({cal['timezone']}){' [red]down[/]' if cal['is_down'] else ''}: "
        f"{shifts or 'open around the clock'}; holidays: {', '.join(cal['holidays']) or 'none'}"
    )
    periods = listed_periods(cal)
    if not periods:
        console.print("no overtime or down periods applied")
        return
    table = Table(title="overtime and down periods applied (UTC)")
    for column in ("#", "what", "from", "until"):
        table.add_column(column)
    for n, (kind, centre, p) in enumerate(periods, start=1):
        what = "overtime" if kind == "overtime" else f"{centre or 'factory'} down"
        table.add_row(str(n), what, minute(p["start"]), minute(p["end"]))
    console.print(table)


def minute(iso: str) -> str:
    """An API time as a person reads it: 'Tue 01 Dec 2026 20:21' (UTC)."""
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%a %d %b %Y %H:%M")


@scenario_app.command("withdraw")
def withdraw(factory: str, number: int, token: Token, api_url: ApiUrl = None) -> None:
    """Take back the NUMBER-th period ``c2b scenario calendar FACTORY`` lists. Overtime the
    live plan still works in is refused."""
    periods = listed_periods(call_api(api_url, token, "GET", f"/v1/factories/{factory}/calendar"))
    if not 1 <= number <= len(periods):
        raise typer.BadParameter(
            f"{factory} lists {len(periods)} period(s); see c2b scenario calendar {factory}",
            param_hint="NUMBER",
        )
    kind, centre, p = periods[number - 1]
    body: dict[str, Any] = {"kind": kind, "start": p["start"], "end": p["end"]}
    if centre:
        body["work_centre"] = centre
    call_api(api_url, token, "POST", f"/v1/factories/{factory}/calendar/withdraw", json=body)
    console.print(
        f"[green]withdrawn[/]: {kind} of {centre or factory} from {minute(p['start'])} to "
        f"{minute(p['end'])} UTC"
    )
