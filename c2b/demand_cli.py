"""``c2b demand``: a buyer team's commands against the running API (a client like any other:
it speaks HTTP with the team's token and never touches the database)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn
from rich.table import Table

from c2b.settings import get_settings
from models.schemas import BatchStatus, OnError, ProductionOrderStatus, ReorderDecision

demand_app = typer.Typer(
    help="Buyer teams: submit demand, follow batches, report test-batch sales, reorder "
    "(uses the API).",
    no_args_is_help=True,
)
console = Console()
# A batch is aggregated within seconds (100,000 lines in about 2 s: bench/results/intake-*).
PICK_WAIT_S = 60.0
# A cancellation's undoing is one transaction once the order's workflow takes it: seconds.
CANCEL_WAIT_S = 60.0
CHUNK = 64 * 1024

ApiUrl = Annotated[
    str | None, typer.Option(envvar="C2B_API_URL", help="Default: the settings' API address.")
]
Token = Annotated[
    str,
    typer.Option(
        envvar="C2B_TOKEN",
        help="The buyer team's bearer token (c2b token create --role buyer --scope TEAM).",
    ),
]


class ApiClient(httpx.Client):
    """The commands' HTTP client: an API it cannot reach is a one-line message naming the
    address and exit 1, not a traceback."""

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        try:
            return super().send(request, **kwargs)
        except httpx.TransportError as err:
            where = f"{request.url.scheme}://{request.url.netloc.decode()}"
            console.print(
                f"[red]cannot reach the API[/] at {where} ({type(err).__name__}: {err or '-'}). "
                "Is it running (make run)? Another address: --api-url or C2B_API_URL."
            )
            raise typer.Exit(1) from err


def api_client(api_url: str | None, token: str) -> httpx.Client:
    settings = get_settings()
    url = api_url or f"http://{settings.api_host}:{settings.api_port}"
    return ApiClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=httpx.Timeout(300.0)
    )


def refusal(resp: httpx.Response) -> typer.Exit:
    """Print the API's refusal as it said it (the field or line it names) and exit 1."""
    try:
        detail: Any = resp.json().get("detail", resp.text)
    except ValueError:
        detail = resp.text
    if isinstance(detail, dict):
        console.print(f"[red]{resp.status_code}[/] {detail.get('message', '')}")
        if detail.get("rejected_lines"):
            console.print(rejects_table(detail["rejected_lines"]))
    else:
        field = ""
        try:
            field = resp.json().get("field") or ""
        except ValueError:
            pass
        console.print(
            f"[red]{resp.status_code}[/] {detail}" + (f" (field: {field})" if field else "")
        )
    return typer.Exit(1)


def call_api(
    api_url: str | None, token: str, method: str, path: str, wait_s: float = 0, **kwargs: Any
) -> Any:
    """One request; its JSON answer, or the API's refusal printed and exit 1. With
    ``wait_s``, a 409 that says Retry-After (a batch still being aggregated) is sent again
    when it says, for up to ``wait_s`` seconds, showing why it waits."""
    deadline = time.monotonic() + wait_s
    with api_client(api_url, token) as http, console.status("") as waiting:
        while True:
            resp = http.request(method, path, **kwargs)
            retry_after = resp.headers.get("Retry-After", "")
            again = resp.status_code == 409 and retry_after.isdigit()
            if not again or time.monotonic() + int(retry_after) > deadline:
                break
            waiting.update(f"{resp.json().get('detail', '')} (waiting up to {wait_s:.0f} s)")
            time.sleep(int(retry_after))
    if not resp.is_success:
        raise refusal(resp)
    return resp.json() if resp.content else None  # 204: nothing


def rejects_table(rejects: list[dict[str, Any]]) -> Table:
    table = Table(title=f"{len({r['line'] for r in rejects})} rejected lines")
    for column in ("line", "field", "reason"):
        table.add_column(column, overflow="fold")
    for r in rejects:
        table.add_row(str(r["line"]), r["field"], r["reason"])
    return table


def _chunks(data: bytes, progress: Progress, task: Any) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        chunk = data[start : start + CHUNK]
        yield chunk
        progress.update(task, advance=len(chunk))


@demand_app.command("submit")
def submit(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    token: Token,
    on_error: Annotated[
        OnError,
        typer.Option(help="reject_batch: one bad line rejects all; accept_valid: keep the good."),
    ] = OnError.REJECT_BATCH,
    idempotency_key: Annotated[
        str | None,
        typer.Option(help="Default: the file's SHA-256, so submitting it again creates nothing."),
    ] = None,
    pick_window_hours: Annotated[
        float | None, typer.Option(min=0.0001, help="Default: the platform's (48 h).")
    ] = None,
    api_url: ApiUrl = None,
) -> None:
    """Upload a CSV demand batch and print what was accepted and every rejected line."""
    data = file.read_bytes()
    key = idempotency_key or f"sha256-{hashlib.sha256(data).hexdigest()}"
    with (
        api_client(api_url, token) as http,
        Progress(
            TextColumn(f"uploading {file.name}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("upload", total=len(data))
        resp = http.post(
            "/v1/demand-batches",
            params={"on_error": on_error.value}
            | ({"pick_window_hours": pick_window_hours} if pick_window_hours else {}),
            content=_chunks(data, progress, task),
            headers={
                "Content-Type": "text/csv",
                "Content-Length": str(len(data)),
                "Idempotency-Key": key,
            },
        )
    if resp.status_code != 201:
        raise refusal(resp)
    batch = resp.json()
    console.print(
        f"batch [bold]{batch['batch_id']}[/]: {batch['accepted_lines']} lines accepted, "
        f"status {batch['status']}"
    )
    if batch["rejected_lines"]:
        console.print(rejects_table(batch["rejected_lines"]))
    console.print(f"follow it with: c2b demand status {batch['batch_id']}")


@demand_app.command("status")
def status(
    batch_id: Annotated[int, typer.Argument(min=1)],
    token: Token,
    api_url: ApiUrl = None,
) -> None:
    """A batch's lines by state, its quantities, its pick window and production orders."""
    with api_client(api_url, token) as http:
        resp = http.get(f"/v1/demand-batches/{batch_id}")
        if resp.status_code != 200:
            raise refusal(resp)
        batch = resp.json()
        aggregate = http.get(f"/v1/demand-batches/{batch_id}/aggregate")
    console.print(batch_summary(batch))
    if aggregate.status_code == 200:
        console.print(aggregate_table(aggregate.json()))


@demand_app.command("styles")
def styles(token: Token, api_url: ApiUrl = None) -> None:
    """The catalogue: what a demand line may name (style, colour, size) and each style's
    minimum order quantity."""
    catalogue = call_api(api_url, token, "GET", "/v1/styles")
    table = Table(title=f"{len(catalogue)} styles", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    for column in ("style", "name", "sizes", "colours", "MOQ", "tech pack"):
        table.add_column(column, overflow="fold")
    for st in catalogue:
        table.add_row(
            st["code"],
            st["name"],
            " ".join(st["size_run"]),
            ", ".join(st["colours"]),
            str(st["min_order_qty"]),
            st["tech_pack_status"],
        )
    console.print(table)


@demand_app.command("batches")
def batches(
    token: Token,
    state: Annotated[
        list[BatchStatus] | None, typer.Option("--status", help="Only these (repeatable).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    api_url: ApiUrl = None,
) -> None:
    """The team's demand batches, newest first."""
    params = {"status": [s.value for s in state or []], "limit": limit}
    page = call_api(api_url, token, "GET", "/v1/demand-batches", params=params)
    table = Table(title=f"{len(page['batches'])} of {page['total']} demand batches")
    for column in ("batch", "status", "lines", "rejected", "created"):
        table.add_column(column)
    for b in page["batches"]:
        table.add_row(
            str(b["batch_id"]),
            b["status"],
            str(b["accepted_lines"]),
            str(len({r["line"] for r in b["rejected_lines"]})),
            at_minute(b["created_at"]),
        )
    console.print(table)


@demand_app.command("orders")
def orders(
    token: Token,
    state: Annotated[
        list[ProductionOrderStatus] | None,
        typer.Option("--status", help="Only these (repeatable)."),
    ] = None,
    batch: Annotated[int | None, typer.Option(min=1, help="Only this batch's.")] = None,
    late: Annotated[
        bool, typer.Option(help="Only orders the live plan finishes after their due date.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    api_url: ApiUrl = None,
) -> None:
    """Production orders, newest first (with --late, the latest first): the team's own,
    or with a planner's token every team's."""
    params: dict[str, Any] = {"status": [s.value for s in state or []], "limit": limit}
    if batch is not None:
        params["batch_id"] = batch
    if late:
        params["late"] = "true"
    page = call_api(api_url, token, "GET", "/v1/production-orders", params=params)
    table = Table(
        title=f"{len(page['orders'])} of {page['total']} production orders",
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
    )  # fits 80 columns; an order's batch is in `c2b demand batches` and the order itself
    for column in ("order", "style/colour", "pcs", "status", "due", "finishes UTC", "late"):
        table.add_column(column, no_wrap=True)
    for o in page["orders"]:
        finish = o["planned_finish"] or o["completed_at"]
        table.add_row(
            str(o["id"]),
            f"{o['style_code']}/{o['colour']}" + (" (reorder)" if o["reorder_round"] else ""),
            str(o["quantity"]),
            o["status"],
            o["due_date"] or "-",
            at_minute(finish),
            f"{o['hours_late']:g} h" if o["hours_late"] else "",
        )
    console.print(table)


def at_minute(value: str | None) -> str:
    """An API timestamp as the tables show it: minutes, UTC."""
    return value[:16].replace("T", " ") if value else "-"


@demand_app.command("order")
def order(
    order_id: Annotated[int, typer.Argument(min=1)],
    token: Token,
    events: Annotated[
        int, typer.Option(min=0, help="How many of the trail's latest events to show.")
    ] = 12,
    api_url: ApiUrl = None,
) -> None:
    """One production order: its state and stages, where each operation runs, its
    fabric, the shipment to each customer line and the latest events of its trail."""
    o = call_api(api_url, token, "GET", f"/v1/production-orders/{order_id}")
    console.print(order_summary(o))
    stages = Table(title="stages", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    for column in ("status", "entered UTC", "hours"):
        stages.add_column(column, no_wrap=True)
    for st in o["stages"]:
        now = "" if st["left_at"] else " (now)"
        stages.add_row(st["status"] + now, at_minute(st["entered_at"]), f"{st['hours']:g}")
    console.print(stages)
    console.print(work_orders_table(o["work_orders"]))
    if o["shipments"]:
        shipped = Table(title="shipments", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
        for column in ("line", "customer", "size", "pcs", "shipped UTC", "work orders"):
            shipped.add_column(column)
        for sh in o["shipments"]:
            shipped.add_row(
                str(sh["line_no"]),
                sh["customer_ref"],
                sh["size"],
                str(sh["quantity"]),
                at_minute(sh["shipped_at"]),
                " ".join(str(w) for w in sh["work_order_ids"]),
            )
        console.print(shipped)
    if events:
        trail = Table(
            title=f"latest {min(events, len(o['events']))} of {len(o['events'])} events",
            box=box.SIMPLE_HEAD,
            padding=(0, 1, 0, 0),
        )
        for column in ("at UTC", "what", "by", "details"):
            trail.add_column(column, overflow="fold")
        for e in o["events"][-events:]:
            what = e["kind"] + (f" (wo {e['entity_id']})" if e["entity"] == "work_order" else "")
            details = ", ".join(f"{k}={v}" for k, v in e["data"].items())
            trail.add_row(at_minute(e["at"]), what, e["actor"], details)
        console.print(trail)


def order_summary(o: dict[str, Any]) -> Table:
    table = Table(title=f"production order {o['id']}", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row(
        "style/colour",
        f"{o['style_code']}/{o['colour']}" + (" (reorder)" if o["reorder_round"] else ""),
    )
    sizes = " ".join(f"{size}:{n}" for size, n in o["size_breakdown"].items())
    table.add_row("pieces", f"{o['quantity']} ({sizes}), {o['good_quantity']} good so far")
    table.add_row("status", o["status"])
    table.add_row("batch", str(o["batch_id"]))
    table.add_row("due", o["due_date"] or "-")
    if o["completed_at"]:
        table.add_row("completed UTC", at_minute(o["completed_at"]))
    elif o["planned_finish"]:
        late = f", {o['hours_late']:g} h late" if o["hours_late"] else ", on time"
        table.add_row("finishes UTC (live plan)", at_minute(o["planned_finish"]) + late)
    table.add_row("lead time", f"{o['lead_time_hours']:g} h since the pick")
    fabric = [f"{r['fabric_code']} {r['metres']:g} m {r['status']}" for r in o["reservations"]]
    fabric += [
        f"purchase {p['id']}: {p['fabric_code']} {p['metres']:g} m {p['status']}, "
        f"expected {at_minute(p['expected_at'])}"
        for p in o["purchase_orders"]
    ]
    table.add_row("fabric", "\n".join(fabric) or "-")
    return table


def time_span(start: str, end: str) -> str:
    """``2026-12-01 05:04 - 06:52``, or ``- 12-02 06:52`` when it ends another day (work
    pauses over the factory's nights)."""
    first, last = at_minute(start), at_minute(end)
    return f"{first} - {last[11:] if last[:10] == first[:10] else last[5:]}"


def work_orders_table(work_orders: list[dict[str, Any]]) -> Table:
    table = Table(title="work orders", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    for column in ("wo", "op", "operation", "work centre", "pcs", "status", "planned UTC", "good"):
        table.add_column(column, no_wrap=True)
    for w in work_orders:
        op = f"{w['seq']}" + (f".{w['attempt']}" if w["attempt"] > 1 else "")
        good = "" if w["good_quantity"] is None else f"{w['good_quantity']}"
        if w["defective_quantity"]:
            good += f" ({w['defective_quantity']} defective)"
        table.add_row(
            str(w["id"]),
            op,
            w["operation_kind"],
            w["work_centre_code"],
            str(w["quantity"]),
            w["status"],
            time_span(w["planned_start"], w["planned_end"]),
            good,
        )
    return table


@demand_app.command("cancel")
def cancel(
    order_id: Annotated[int, typer.Argument(min=1)],
    token: Token,
    reason: Annotated[str, typer.Option(help="Why: the customers' lines are declined with it.")],
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for the undoing to finish (0: don't).")
    ] = CANCEL_WAIT_S,
    api_url: ApiUrl = None,
) -> None:
    """Cancel a production order at whatever step it is, then show what was undone: work
    orders withdrawn (claimed ones too), plan slots freed, fabric back to stock,
    purchases cancelled and the customers' lines declined."""
    path = f"/v1/production-orders/{order_id}"
    call_api(api_url, token, "POST", f"{path}/cancel", json={"reason": reason})
    if wait == 0:
        console.print(
            f"cancelling production order {order_id}; follow it with: c2b demand order {order_id}"
        )
        return
    deadline = time.monotonic() + wait
    with console.status(f"undoing production order {order_id} ..."):
        while True:
            o = call_api(api_url, token, "GET", path)
            if o["status"] == "cancelled" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    if o["status"] != "cancelled":
        console.print(
            f"production order {order_id} is still {o['status']} after {wait:g} s; "
            f"follow it with: c2b demand order {order_id}"
        )
        raise typer.Exit(1)
    undone: dict[str, Any] = next(
        (e["data"] for e in reversed(o["events"]) if e["kind"] == "cancelled"), {}
    )
    console.print(f"production order {order_id} is cancelled: {reason}")
    console.print(
        f"  {undone.get('withdrawn_work_orders', 0)} work orders withdrawn, "
        f"{undone.get('freed_plan_slots', 0)} plan slots freed\n"
        f"  fabric: {undone.get('released_metres', 0):g} m back to stock, "
        f"{undone.get('consumed_metres', 0):g} m consumed (already cut), "
        f"{undone.get('cancelled_purchase_orders', 0)} purchases cancelled\n"
        f"  {undone.get('declined_lines', 0)} customer lines declined"
    )


def batch_summary(batch: dict[str, Any]) -> Table:
    progress = batch.get("progress") or {}
    q = batch["quantities"]
    table = Table(title=f"demand batch {batch['batch_id']}", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    table.add_row("status", progress.get("status") or batch["status"])
    table.add_row("pick window closes", str(progress.get("window_closes_at") or "-"))
    lines = ", ".join(f"{n} {state}" for state, n in batch["lines_by_status"].items() if n)
    table.add_row("lines", lines or "none")
    table.add_row(
        "pieces",
        f"{q['accepted']} accepted = {q['picked']} picked + {q['declined']} declined "
        f"+ {q['open']} open ({q['shipped']} shipped)",
    )
    orders = [
        f"{o['id']} {o['style_code']}/{o['colour']} {o['quantity']} pcs {o['status']}"
        + (" (reorder)" if o["reorder_round"] else "")
        + (f", finishes {at_minute(o['planned_finish'])} UTC" if o["planned_finish"] else "")
        + (f", {o['hours_late']:g} h late" if o["hours_late"] else "")
        for o in batch["production_orders"]
    ]
    table.add_row("production orders", "\n".join(orders) or "-")
    return table


def aggregate_table(aggregate: dict[str, Any]) -> Table:
    table = Table(title="demand by style and colour")
    for column in ("style", "colour", "pieces", "MOQ", "sizes", "earliest feasible due"):
        table.add_column(column)
    for d in aggregate["by_style_colour"]:
        sizes = " ".join(f"{s['size']}:{s['quantity']}" for s in d["sizes"])
        moq = f"{d['min_order_qty']} " + (
            "met" if d["quantity"] >= d["min_order_qty"] else "not met"
        )
        table.add_row(
            d["style_code"],
            d["colour"],
            str(d["quantity"]),
            moq,
            sizes,
            str(d.get("earliest_feasible_due") or "-"),
        )
    return table


@demand_app.command("pick")
def pick(
    batch_id: Annotated[int, typer.Argument(min=1)],
    style: Annotated[str, typer.Argument()],
    colour: Annotated[str, typer.Argument()],
    token: Token,
    quantity: Annotated[int | None, typer.Option(min=1, help="Default: the demand.")] = None,
    test_batch: Annotated[bool, typer.Option(help="A small first run, judged by sales.")] = False,
    no_go: Annotated[bool, typer.Option("--no-go", help="Decline this style-colour.")] = False,
    due_date: Annotated[str | None, typer.Option(help="YYYY-MM-DD")] = None,
    close: Annotated[bool, typer.Option(help="Close the pick window now.")] = False,
    api_url: ApiUrl = None,
) -> None:
    """Pick (or decline) a style-colour of a batch while its pick window is open (a batch
    just submitted is waited for until it is aggregated, up to a minute)."""
    item: dict[str, Any] = {"style": style, "colour": colour, "test_batch": test_batch}
    item["decision"] = "no_go" if no_go else "go"
    if quantity is not None:
        item["quantity"] = quantity
    if due_date is not None:
        item["due_date"] = due_date
    body = {"picks": [item], "close_window": close}
    path = f"/v1/demand-batches/{batch_id}/picks"
    result = call_api(api_url, token, "POST", path, wait_s=PICK_WAIT_S, json=body)
    window = "open" if result["window_open"] else "closed"
    console.print(f"picked {', '.join(result['accepted'])}; the pick window is {window}")


@demand_app.command("sales")
def sales(
    style: Annotated[str, typer.Argument(help="The style code, e.g. TS-CREW.")],
    colour: Annotated[str, typer.Argument()],
    units: Annotated[
        list[str], typer.Argument(help="Units sold by size: S=9 M=14 L=7.", show_default=False)
    ],
    token: Token,
    day: Annotated[str | None, typer.Option(help="YYYY-MM-DD; default: today.")] = None,
    api_url: ApiUrl = None,
) -> None:
    """Report a test batch's units sold on one day (again for the same day replaces it)."""
    sizes = []
    for item in units:
        size, _, count = item.partition("=")
        if not size or not count.isdigit():
            console.print(f"[red]{item!r}[/]: write units as SIZE=COUNT, e.g. M=14")
            raise typer.Exit(2)
        sizes.append({"size": size, "units": int(count)})
    body = {"colour": colour, "day": day or date.today().isoformat(), "sizes": sizes}
    result = call_api(api_url, token, "POST", f"/v1/styles/{style}/sales", json=body)
    console.print(
        f"lifecycle {result['lifecycle_id']}: {result['units_sold']} units over "
        f"{result['days_reported']} days, {result['status']}"
    )


@demand_app.command("lifecycle")
def lifecycle(
    style: Annotated[str, typer.Argument(help="The style code, e.g. TS-CREW.")],
    token: Token,
    api_url: ApiUrl = None,
) -> None:
    """The team's test batches of a style: sales, the reorder proposal and its reasons."""
    lifecycles = call_api(api_url, token, "GET", f"/v1/styles/{style}/lifecycles")
    table = Table(title=f"test batches of {style}")
    for column in ("id", "colour", "status", "sold", "proposal", "decision / reason"):
        table.add_column(column, overflow="fold")
    for x in lifecycles:
        sold = " ".join(f"{s}:{n}" for s, n in x["units_sold_by_size"].items())
        proposal = x["proposal"]
        table.add_row(
            str(x["id"]),
            x["colour"],
            x["status"],
            sold or "-",
            f"{proposal['quantity']} pcs: {proposal['reason']}" if proposal else "-",
            x["decision"] or x["reason"] or "-",
        )
    console.print(table)


@demand_app.command("reorder")
def reorder(
    style: Annotated[str, typer.Argument()],
    colour: Annotated[str, typer.Argument()],
    decision: Annotated[ReorderDecision, typer.Argument(help="accept, change or decline")],
    token: Token,
    quantity: Annotated[int | None, typer.Option(min=1, help="For change: pieces.")] = None,
    api_url: ApiUrl = None,
) -> None:
    """Answer the reorder proposal of a test batch."""
    body: dict[str, Any] = {"colour": colour, "decision": decision.value}
    if quantity is not None:
        body["quantity"] = quantity
    result = call_api(api_url, token, "POST", f"/v1/styles/{style}/reorder", json=body)
    console.print(
        f"lifecycle {result['lifecycle_id']}: {result['decision']}, {result['quantity']} pcs"
    )
