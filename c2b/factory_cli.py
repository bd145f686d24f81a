"""``c2b factory``: a factory floor's commands against the running API, for a factory
without a system of its own to call it: list its work orders, claim the next, start,
report progress, complete with good and defective pieces per size, refuse, give back.

A client like any other: HTTP with the factory's token (``c2b token create --role factory
--scope FACTORY_ID``), never the database. The lease a claim takes is the token's, so the
commands of one token (one terminal, one line leader) hold it between them.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from c2b.demand_cli import ApiUrl, at_minute, call_api, time_span
from models.schemas import WorkOrderStatus

factory_app = typer.Typer(
    help="Factories: list, claim, start and complete work orders (uses the API).",
    no_args_is_help=True,
)
console = Console()
BASE = "/v1/factory/work-orders"
# The API holds one long-poll for at most 60 s; a longer wait is several.
LONG_POLL_S = 60.0

Token = Annotated[
    str,
    typer.Option(
        envvar="C2B_TOKEN",
        help="The factory's bearer token (c2b token create --role factory --scope FACTORY_ID).",
    ),
]
WorkOrderId = Annotated[int, typer.Argument(min=1, help="The work order's id.")]


def size_quantities(text: str, option: str) -> dict[str, int]:
    """``S=20,M=40`` (or ``S:20``) as {size: pieces}; a clear error naming ``option``."""
    sizes: dict[str, int] = {}
    for item in text.split(","):
        size, sep, pieces = item.strip().replace(":", "=").partition("=")
        size = size.strip()
        if not sep or not size or not pieces.strip().isdigit():
            raise typer.BadParameter(
                f"{item.strip()!r} is not SIZE=PIECES (e.g. S=20,M=40)", param_hint=option
            )
        if size in sizes:
            raise typer.BadParameter(f"size {size} is given twice", param_hint=option)
        sizes[size] = int(pieces)
    return sizes


def good_from_plan(planned: dict[str, int], defective: dict[str, int]) -> dict[str, int]:
    """The good pieces when only the defective are reported: the planned ones less them."""
    for size, pieces in defective.items():
        if size not in planned:
            raise typer.BadParameter(
                f"size {size} is not in this work order ({', '.join(planned)})",
                param_hint="--defective",
            )
        if pieces > planned[size]:
            raise typer.BadParameter(
                f"{pieces} defective {size} is more than the {planned[size]} planned",
                param_hint="--defective",
            )
    good = {size: n - defective.get(size, 0) for size, n in planned.items()}
    return {size: n for size, n in good.items() if n}


def outcome_key(kind: str, wo_id: int, body: dict[str, Any]) -> str:
    """The default Idempotency-Key of an outcome: the same command again (say after a lost
    answer) is answered as the first; a different outcome is refused."""
    digest = hashlib.sha256(json.dumps([kind, wo_id, body], sort_keys=True).encode())
    return f"cli-{kind}-{wo_id}-{digest.hexdigest()[:24]}"


def _send_outcome(
    api_url: str | None,
    token: str,
    kind: str,
    wo_id: int,
    body: dict[str, Any],
    idempotency_key: str | None,
) -> Any:
    """POST a completion or rejection under the caller's key, or one made of its values."""
    key = idempotency_key or outcome_key(kind, wo_id, body)
    path = f"{BASE}/{wo_id}/{kind}"
    return call_api(api_url, token, "POST", path, json=body, headers={"Idempotency-Key": key})


def _pieces(sizes: dict[str, int]) -> str:
    return " ".join(f"{size}:{n}" for size, n in sizes.items())


def _until(wo: dict[str, Any]) -> str:
    """When the lease runs out: ``08:13`` (UTC)."""
    return at_minute(wo["lease_expires_at"])[11:]


def _lease(wo: dict[str, Any]) -> str:
    """``until 08:13`` (UTC) while the work order is held, and the pieces done if told."""
    if wo["status"] not in (WorkOrderStatus.CLAIMED, WorkOrderStatus.STARTED):
        return ""
    done = "" if wo["progress_quantity"] is None else f", {wo['progress_quantity']} done"
    return f"until {_until(wo)}{done}"


def work_orders_table(work_orders: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    columns = ("wo", "order", "op", "style/colour", "work centre", "pieces", "planned UTC")
    for column in (*columns, "status", "lease"):
        table.add_column(column, no_wrap=column not in ("pieces", "lease"))
    for w in work_orders:
        table.add_row(
            str(w["id"]),
            str(w["production_order_id"]),
            f"{w['seq']} {w['operation_kind']}",
            f"{w['style_code']}/{w['colour']}",
            w["work_centre_code"],
            f"{w['quantity']} ({_pieces(w['size_breakdown'])})",
            time_span(w["planned_start"], w["planned_end"]),
            w["status"],
            _lease(w),
        )
    return table


def work_order_summary(w: dict[str, Any]) -> Table:
    table = Table(title=f"work order {w['id']}", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    style = f"{w['style_code']}/{w['colour']}"
    if w.get("style_name"):
        style += f" ({w['style_name']})"
    table.add_row("make", style)
    table.add_row("operation", f"{w['seq']} {w['operation_kind']} at {w['work_centre_code']}")
    table.add_row("pieces", f"{w['quantity']} ({_pieces(w['size_breakdown'])})")
    table.add_row("planned UTC", time_span(w["planned_start"], w["planned_end"]))
    table.add_row("production order", str(w["production_order_id"]))
    if w.get("due_date"):
        table.add_row("order due", w["due_date"])
    table.add_row("status", w["status"])
    if lease := _lease(w):
        table.add_row("lease (UTC)", lease)
    if w["lease_expiries"]:
        table.add_row("leases run out", str(w["lease_expiries"]))
    if w["good_quantity"] is not None:
        table.add_row("good / defective", f"{w['good_quantity']} / {w['defective_quantity']}")
    return table


@factory_app.command("work")
def work(
    token: Token,
    status: Annotated[
        list[WorkOrderStatus] | None,
        typer.Option(
            help="Only these (repeat it); default: released, claimed and started. A factory "
            "never sees planned work orders, nor ones withdrawn before it was given them."
        ),
    ] = None,
    order: Annotated[int | None, typer.Option(min=1, help="One production order's.")] = None,
    operation: Annotated[str | None, typer.Option(help="One kind: cut, sew, finish...")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    api_url: ApiUrl = None,
) -> None:
    """This factory's work orders in plan order: what to make, where, when, and who holds
    what."""
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = [s.value for s in status]
    if order is not None:
        params["production_order_id"] = order
    if operation is not None:
        params["operation_kind"] = operation
    page = call_api(api_url, token, "GET", BASE, params=params)
    shown, count = len(page["data"]), page["count"]
    title = f"{count} work order{'' if count == 1 else 's'}"
    title += f", the first {shown}" if shown < count else ""
    console.print(work_orders_table(page["data"], title))


@factory_app.command("show")
def show(wo_id: WorkOrderId, token: Token, api_url: ApiUrl = None) -> None:
    """One work order in full, with its trail (claims, starts, leases run out, outcome)."""
    w = call_api(api_url, token, "GET", f"{BASE}/{wo_id}")
    console.print(work_order_summary(w))
    trail = Table(title="trail", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    for column in ("at UTC", "what", "by", "details"):
        trail.add_column(column, overflow="fold")
    for e in w["trail"]:
        details = ", ".join(f"{k}={v}" for k, v in e["data"].items())
        trail.add_row(at_minute(e["at"]), e["kind"], e["actor"], details)
    console.print(trail)


@factory_app.command("claim")
def claim(
    token: Token,
    wait: Annotated[
        float, typer.Option(min=0, max=3600, help="Seconds to wait for work if none is there.")
    ] = 0,
    api_url: ApiUrl = None,
) -> None:
    """Claim the next released work order in plan order, under a lease (15 minutes unless
    the platform says otherwise: `heartbeat` extends it)."""
    deadline = time.monotonic() + wait
    while True:
        poll = min(LONG_POLL_S, max(0.0, deadline - time.monotonic()))
        w = call_api(api_url, token, "POST", f"{BASE}/claim", params={"wait": round(poll, 1)})
        if w is not None:
            break
        if time.monotonic() >= deadline:
            console.print(
                f"nothing to claim{f' within {wait:g} s' if wait else ''}: no released work "
                "for this factory (or it is marked down, or the work's centre is on hold)"
            )
            return
    console.print(work_order_summary(w))
    console.print(
        f"next: c2b factory start {w['id']}, then c2b factory complete {w['id']} "
        "(or give it back: c2b factory release)"
    )


@factory_app.command("start")
def start(wo_id: WorkOrderId, token: Token, api_url: ApiUrl = None) -> None:
    """Mark a claimed work order as started on the floor."""
    w = call_api(api_url, token, "POST", f"{BASE}/{wo_id}/start")
    console.print(
        f"work order {wo_id} started at {w['work_centre_code']}; lease until {_until(w)} UTC"
    )


@factory_app.command("heartbeat")
def heartbeat(
    wo_id: WorkOrderId,
    token: Token,
    done: Annotated[
        int | None, typer.Option(min=0, help="Pieces done so far (good and defective).")
    ] = None,
    api_url: ApiUrl = None,
) -> None:
    """Extend the lease by its full length, and report progress."""
    body = None if done is None else {"progress_quantity": done}
    w = call_api(api_url, token, "POST", f"{BASE}/{wo_id}/heartbeat", json=body)
    so_far = "" if w["progress_quantity"] is None else f"{w['progress_quantity']} done, "
    console.print(f"work order {wo_id}: {so_far}lease until {_until(w)} UTC")


@factory_app.command("complete")
def complete(
    wo_id: WorkOrderId,
    token: Token,
    good: Annotated[
        str | None,
        typer.Option(help="Good pieces per size, S=20,M=40; default: as planned, less defects."),
    ] = None,
    defective: Annotated[str | None, typer.Option(help="Defective pieces per size, M=2.")] = None,
    idempotency_key: Annotated[
        str | None,
        typer.Option(
            help="Default: one made of the command's own values, so repeating it "
            "(after a lost answer) records nothing twice."
        ),
    ] = None,
    api_url: ApiUrl = None,
) -> None:
    """Report a claimed work order done: its good and defective pieces per size."""
    bad = size_quantities(defective, "--defective") if defective else {}
    if good is not None:
        made = size_quantities(good, "--good")
    else:
        planned = call_api(api_url, token, "GET", f"{BASE}/{wo_id}")["size_breakdown"]
        made = good_from_plan(planned, bad)
    body = {
        "good": [{"size": s, "quantity": n} for s, n in made.items()],
        "defective": [{"size": s, "quantity": n} for s, n in bad.items()],
    }
    result = _send_outcome(api_url, token, "complete", wo_id, body, idempotency_key)
    console.print(
        f"work order {wo_id} completed: {result['good_quantity']} good, "
        f"{result['defective_quantity']} defective (production order "
        f"{result['production_order_id']})"
    )
    if result["work_centre_on_hold"]:
        console.print(
            "[yellow]its work centre is on a quality hold[/]: too many defects among its "
            "latest completions. Its unclaimed work moves elsewhere until a planner releases it."
        )


@factory_app.command("reject")
def reject(
    wo_id: WorkOrderId,
    token: Token,
    reason: Annotated[str, typer.Option(help="Why the factory cannot do it.")],
    idempotency_key: Annotated[
        str | None, typer.Option(help="Default: one made of the command's own values.")
    ] = None,
    api_url: ApiUrl = None,
) -> None:
    """Refuse a claimed work order: the platform plans it elsewhere."""
    body = {"reason": reason}
    result = _send_outcome(api_url, token, "reject", wo_id, body, idempotency_key)
    console.print(
        f"work order {wo_id} rejected ({result['reason']}); production order "
        f"{result['production_order_id']} plans it elsewhere"
    )


@factory_app.command("release")
def release(wo_id: WorkOrderId, token: Token, api_url: ApiUrl = None) -> None:
    """Give a claimed work order back to the queue (not counted as a lease run out)."""
    call_api(api_url, token, "POST", f"{BASE}/{wo_id}/release")
    console.print(f"work order {wo_id} is back in the queue")
