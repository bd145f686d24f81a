"""``c2b``: run the platform's processes and administer it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

from c2b import migrate
from c2b.db import make_engine, make_session_factory
from c2b.demand_cli import demand_app
from c2b.factory_cli import factory_app
from c2b.scenario_cli import scenario_app
from c2b.settings import get_settings
from c2b.simulator import FactoryStats, SimulatedFactory, SimulationConfig, run_factory
from c2b.tokens import IssuedToken, create_token, list_tokens, revoke_token
from models.errors import DomainError
from models.schemas import Role
from optimizer.problem import Progress

app = typer.Typer(help="C2B made-to-order platform.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
token_app = typer.Typer(help="Bearer tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(token_app, name="token")
trace_app = typer.Typer(help="Traces written with C2B_TRACING=file:PATH.", no_args_is_help=True)
app.add_typer(trace_app, name="trace")
simulate_app = typer.Typer(help="Simulations against the running API.", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")
bench_app = typer.Typer(
    help="Benchmarks over real processes; results go to bench/results.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")
app.add_typer(demand_app, name="demand")
app.add_typer(factory_app, name="factory")
app.add_typer(scenario_app, name="scenario")
console = Console()
# Seconds an idle keep-alive connection stays open on the API (see `api` below).
KEEP_ALIVE_S = 75

# Options every benchmark over real processes takes.
BenchDatabaseUrl = Annotated[
    str | None,
    typer.Option(
        envvar="DATABASE_URL",
        help="A PostgreSQL server to run on (a fresh database is made there and dropped). "
        "Default: a fresh SQLite file.",
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
BenchOut = Annotated[
    Path | None, typer.Option(help="Default: bench/results/<benchmark>-<database>.json")
]


@contextlib.contextmanager
def database_session() -> Iterator[Session]:
    """A session on DATABASE_URL for one command; the engine goes with it."""
    engine = make_engine(get_settings().effective_database_url)
    try:
        with make_session_factory(engine)() as session:
            yield session
    finally:
        engine.dispose()


def print_tokens(out: Console, tokens: list[IssuedToken]) -> None:
    """One line per token, never folded: a token split over two lines cannot be copied
    (the terminal may wrap a long line; it inserts no newline)."""
    out.print("[bold]Bearer tokens[/] (shown once; only their hashes are stored)")
    out.print(f"{'principal':<16} {'role':<9} {'scope':<6} token", style="dim")
    for t in tokens:
        scope = "" if t.scope_id is None else str(t.scope_id)
        out.print(
            f"{t.name:<16} {t.role.value:<9} {scope:<6} {t.token}", soft_wrap=True, highlight=False
        )


@app.command()
def worker() -> None:
    """Run a worker: the workflows and database activities of the orchestration queue."""
    from c2b.worker import run_worker

    settings = get_settings()
    console.print(
        f"worker on [bold]{settings.temporal_address}[/] queue "
        f"[bold]{settings.orchestration_task_queue}[/]"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_worker(settings))


@app.command()
def solver() -> None:
    """Run a solver worker: scenario solves, on their own task queue."""
    from c2b.worker import run_solver

    settings = get_settings()
    console.print(
        f"solver on [bold]{settings.temporal_address}[/] queue "
        f"[bold]{settings.solver_task_queue}[/]"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_solver(settings))


@app.command()
def api(
    host: Annotated[str | None, typer.Option(help="Default: C2B_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: C2B_API_PORT")] = None,
) -> None:
    """Run the HTTP API."""
    from c2b.logs import configure_logging

    settings = get_settings()
    configure_logging("c2b-api", settings.log_format, settings.log_level)
    uvicorn.run(
        "c2b.wiring:build_app",
        factory=True,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level="warning",
        log_config=None,  # uvicorn's loggers go through ours (configure_logging)
        # An idle connection is closed by the client first: httpx and most HTTP clients
        # drop theirs after 5 s, uvicorn's default too, and a request sent on a connection
        # the server is closing that instant fails with a read error (seen in
        # bench/claims.py's load). Behind a proxy, keep the proxy's idle timeout below this.
        timeout_keep_alive=KEEP_ALIVE_S,
    )


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply the migrations to DATABASE_URL (default: the embedded SQLite file)."""
    url = get_settings().effective_database_url
    migrate.upgrade(url, revision)
    console.print(f"database at [bold]{_safe(url)}[/] is at revision {revision}")


@app.command()
def seed() -> None:
    """Load the demo master data (factories, fabrics, styles, teams) if the database is empty."""
    from c2b.seed import seed_demo_data

    with database_session() as session:
        summary = seed_demo_data(session)
    if summary.created:
        console.print(
            f"seeded {summary.factories} factories, {summary.work_centres} work centres, "
            f"{summary.fabrics} fabrics, {summary.styles} styles, {summary.teams} buyer teams"
        )
    else:
        console.print("master data already present; nothing changed")


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="The principal's role.")],
    scope: Annotated[int | None, typer.Option(help="Team id (buyer) or factory id.")] = None,
    name: Annotated[str | None, typer.Option(help="Who the token is for.")] = None,
) -> None:
    """Create a bearer token and print it (once)."""
    with database_session() as session:
        try:
            issued = create_token(session, role, scope, name or f"{role.value}:{scope or '-'}")
        except DomainError as err:
            console.print(f"[red]error:[/] {err.message}")
            raise typer.Exit(2) from err
    console.print(issued.token, soft_wrap=True, highlight=False)


@token_app.command("list")
def token_list(
    all_: Annotated[bool, typer.Option("--all", help="Revoked tokens too.")] = False,
) -> None:
    """The tokens in force (ids, names, roles, scopes, when created and revoked)."""
    from rich.table import Table

    with database_session() as session:
        tokens = list_tokens(session, include_revoked=all_)
    table = Table("id", "name", "role", "scope", "created", "revoked")
    for t in tokens:
        table.add_row(
            str(t.id),
            t.name,
            t.role.value,
            "" if t.scope_id is None else str(t.scope_id),
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "",
        )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="The id from `c2b token list`.")],
) -> None:
    """Revoke a token: the API refuses it within 5 seconds."""
    with database_session() as session:
        try:
            token = revoke_token(session, token_id)
        except DomainError as err:
            console.print(f"[red]error:[/] {err.message}")
            raise typer.Exit(2) from err
        console.print(f"revoked token {token.id} ({token.name}, {token.role.value})")


@trace_app.command("show")
def trace_show(
    path: Annotated[Path, typer.Argument(help="The file C2B_TRACING=file:PATH wrote.")],
    trace_id: Annotated[
        str | None, typer.Option(help="Which trace (0x... hex); default: the latest.")
    ] = None,
) -> None:
    """One trace as a tree: the request, the Temporal calls, workflows and activities."""
    from c2b.tracing import read_spans, render_trace, trace_ids

    try:
        spans = read_spans(path)
    except (OSError, ValueError) as err:
        console.print(f"[red]error:[/] {path}: {err}")
        raise typer.Exit(2) from err
    known = trace_ids(spans)
    wanted = trace_id or (known[-1] if known else None)
    if wanted is None or wanted not in known:
        console.print(f"[red]error:[/] no trace {wanted or ''} in {path}".replace("  ", " "))
        raise typer.Exit(2)
    console.print(f"trace {wanted}", highlight=False)
    for line in render_trace(spans, wanted):
        console.print(line, highlight=False, soft_wrap=True, markup=False)


class InstanceFormat(StrEnum):
    JSSP = "jssp"
    FJSP = "fjsp"


@app.command()
def solve(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Instance file.")],
    format: Annotated[InstanceFormat, typer.Option("--format", help="Its format.")],
    time_limit: Annotated[float, typer.Option(min=0.1, help="Seconds.")] = 30.0,
    workers: Annotated[int, typer.Option(min=1, help="CP-SAT search workers.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Solve one public job-shop (jssp) or flexible job-shop (fjsp) instance for makespan."""

    from optimizer.cpsat import solve as solve_problem
    from optimizer.instances import makespan_params, read_instance

    try:
        problem = read_instance(file, format.value)
    except ValueError as err:
        console.print(f"[red]error:[/] {err}")
        raise typer.Exit(2) from err
    progress = Console(stderr=True)

    def show(p: Progress) -> None:
        if not as_json:
            progress.print(f"{p.seconds:6.1f} s  makespan {p.objective}  bound {p.best_bound}")

    plan = solve_problem(problem, makespan_params(time_limit, workers), on_progress=show)
    result = {
        "makespan": plan.kpis.makespan,
        "lower_bound": round(plan.best_bound),
        "status": plan.status.value,
        "seconds": plan.seconds,
    }
    if as_json:
        typer.echo(json.dumps(result))
    else:
        console.print(result)


@bench_app.command("scheduler")
def bench_scheduler(
    set_name: Annotated[
        str, typer.Option("--set", help="smoke, ft, la01-20, la21-40, abz, orb or mk.")
    ] = "smoke",
    time_limit: Annotated[float, typer.Option(min=0.1, help="Seconds per instance.")] = 30.0,
    workers: Annotated[int, typer.Option(min=1, help="CP-SAT search workers.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Public scheduling instances: ours against best known, textbook model and greedy;
    writes the set's table to docs/benchmarks.md."""

    from bench.scheduler import SETS, measure

    if set_name not in SETS:
        console.print(f"[red]error:[/] set {set_name!r}: use one of {', '.join(SETS)}")
        raise typer.Exit(2)
    progress = Console(stderr=True)
    result = measure(set_name, time_limit, workers, progress.print)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        console.print(
            f"mean gap {result['mean_gap_pct']}% (textbook {result['mean_textbook_gap_pct']}%, "
            f"greedy {result['mean_greedy_gap_pct']}%); table in docs/benchmarks.md"
        )


@bench_app.command("schedule")
def bench_schedule(
    orders: Annotated[int, typer.Option(min=1, help="Orders to generate.")] = 200,
    time_limit: Annotated[float, typer.Option(min=0.1, help="Seconds for CP-SAT.")] = 60.0,
    workers: Annotated[int, typer.Option(min=1, help="CP-SAT search workers.")] = 2,
    seed: Annotated[int, typer.Option(help="The generator's seed.")] = 1,
    max_lots: Annotated[
        int, typer.Option(min=1, help="Lots a big order may be split into (1: none).")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """A generated apparel problem: CP-SAT against the greedy dispatcher, and one insertion."""

    from bench.apparel import measure

    progress = Console(stderr=True)
    result = measure(orders, time_limit, workers, seed, progress.print, max_lots=max_lots)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        console.print(result)


def whole_numbers(text: str, option: str, at_least: int) -> list[int]:
    """A benchmark's comma-separated sizes, each at least ``at_least``; a bad one is the
    option's error."""
    try:
        sizes = [int(n) for n in text.split(",")]
    except ValueError:
        raise typer.BadParameter(
            f"not a list of whole numbers: {text!r}", param_hint=option
        ) from None
    if any(n < at_least for n in sizes):
        raise typer.BadParameter(f"every size must be at least {at_least}", param_hint=option)
    return sizes


@bench_app.command("neighbourhoods")
def bench_neighbourhoods(
    orders: Annotated[
        str, typer.Option(help="Sizes of the live plans, in orders, comma-separated.")
    ] = "100,150,200,300,400",
    time_limit: Annotated[float, typer.Option(min=0.1, help="Seconds for each search.")] = 20.0,
    seed: Annotated[int, typer.Option(help="Seed of the generated orders.")] = 1,
    as_json: AsJson = False,
    out: BenchOut = None,
) -> None:
    """Live plans of growing size, solved as one CP-SAT model and a neighbourhood at a
    time for the same seconds: where ``Params.full_model_operations`` comes from."""
    from bench.neighbourhoods import measure

    sizes = whole_numbers(orders, "--orders", at_least=1)
    progress = Console(stderr=True)
    result = measure(sizes, time_limit, seed, progress.print, out)
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"{result['benchmark']}, {time_limit:g} s each")
    for column in ("orders", "operations", "greedy", "one model", "neighbourhoods", "default"):
        table.add_column(column, justify="left" if column == "default" else "right")
    for row in result["sizes"]:
        whole, pieces = row["whole_model"], row["neighbourhoods"]
        table.add_row(
            str(row["orders"]),
            str(row["operations"]),
            f"{row['greedy_objective']:,.0f}",
            f"{whole['objective']:,.0f} ({whole['below_greedy']:.0%} below)",
            f"{pieces['objective']:,.0f} ({pieces['below_greedy']:.0%} below)",
            row["default_uses"],
        )
    console.print(table)


@bench_app.command("claims")
def bench_claims(
    pollers: Annotated[int, typer.Option(min=1, help="Concurrent pollers.")] = 200,
    work_orders: Annotated[int, typer.Option(min=1, help="Work orders to claim.")] = 10_000,
    factories: Annotated[int, typer.Option(min=1, help="Factories sharing the pollers.")] = 20,
    orders: Annotated[
        int,
        typer.Option(
            min=1,
            help="Production orders completed through their workflows, each with a buyer "
            "client of its own: more of them than the API's 40 pooled connections.",
        ),
    ] = 120,
    database_url: BenchDatabaseUrl = None,
    as_json: AsJson = False,
    out: BenchOut = None,
) -> None:
    """Claims and completions over HTTP against a bare primary-key route."""
    from bench.claims import measure

    progress = Console(stderr=True)
    result = measure(
        database_url or None, pollers, work_orders, factories, orders, progress.print, out
    )
    print_result(result, as_json)


@bench_app.command("orchestration")
def bench_orchestration(
    orders: Annotated[int, typer.Option(min=1, help="Production orders, one batch each.")] = 1000,
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            help="Batches being submitted and picked at once (6: where throughput stops "
            "rising on 2 cores; more only queue).",
        ),
    ] = 6,
    trivial: Annotated[
        int, typer.Option(min=1, help="One-activity workflows of the baseline.")
    ] = 300,
    orders_per_batch: Annotated[
        int,
        typer.Option(
            min=1,
            max=5,
            help="Orders per batch: one line per style-colour, all picked (1: every order "
            "its own batch, the worst case).",
        ),
    ] = 1,
    database_url: BenchDatabaseUrl = None,
    as_json: AsJson = False,
    out: BenchOut = None,
) -> None:
    """Orders through the full flow, factories completing at once, against the Temporal
    dev server's one-activity workflows per second."""
    from bench.orchestration import measure

    progress = Console(stderr=True)
    result = measure(
        database_url or None,
        orders,
        concurrency,
        trivial,
        progress.print,
        out,
        per_batch=orders_per_batch,
    )
    print_result(result, as_json)


@bench_app.command("chaos")
def bench_chaos(
    orders: Annotated[int, typer.Option(min=1, help="Production orders, one batch each.")] = 300,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Batches being submitted and picked at once.")
    ] = 10,
    kill_every: Annotated[
        float, typer.Option(min=0.5, help="Seconds between kills, give or take half.")
    ] = 6.0,
    stuck_after: Annotated[
        float, typer.Option(min=1, help="Seconds after the last restart before an order is stuck.")
    ] = 180.0,
    seed: Annotated[int, typer.Option(help="Seeds the victims and the moments.")] = 1,
    rounds: Annotated[
        int | None,
        typer.Option(min=1, help="Kill rounds, exactly (default: until every order shipped)."),
    ] = None,
    database_url: BenchDatabaseUrl = None,
    as_json: AsJson = False,
    out: BenchOut = None,
) -> None:
    """Orders flowing while the worker, the API and the Temporal dev server are killed
    (SIGKILL) and restarted; then every invariant is checked: nothing lost or doubled."""
    from bench.chaos import measure

    progress = Console(stderr=True)
    result = measure(
        database_url or None,
        orders,
        concurrency,
        kill_every,
        stuck_after,
        seed,
        rounds,
        progress.print,
        out,
    )
    print_result(result, as_json)


@bench_app.command("soak")
def bench_soak(
    minutes: Annotated[float, typer.Option(min=0.1, help="Measured time, after a warm-up.")] = 10,
    intake_rate: Annotated[float, typer.Option(min=0.05, help="Batches a second.")] = 1.0,
    scenario_every: Annotated[float, typer.Option(min=5, help="Seconds between scenarios.")] = 60,
    seed: Annotated[int, typer.Option(help="Seeds the planner's choices.")] = 1,
    warm_up: Annotated[float, typer.Option(min=0, help="Seconds before measuring.")] = 30,
    pollers: Annotated[int, typer.Option(min=1, help="Claiming clients per factory.")] = 8,
    work_seconds: Annotated[
        float, typer.Option(min=0, help="Seconds a factory works on a work order.")
    ] = 2.0,
    database_url: BenchDatabaseUrl = None,
    as_json: AsJson = False,
    out: BenchOut = None,
) -> None:
    """A steady mixed load for minutes: latency by endpoint, errors, memory of every process."""
    from bench.soak import measure

    progress = Console(stderr=True)
    url = database_url or None
    result = measure(
        url,
        minutes,
        intake_rate,
        scenario_every,
        seed,
        warm_up,
        progress.print,
        out,
        pollers=pollers,
        work_s=work_seconds,
    )
    print_result(result, as_json)


class ClosedIn(StrEnum):
    SUPERSEDED = "superseded"
    LIVE = "live"


@bench_app.command("history")
def bench_history(
    closed: Annotated[
        str, typer.Option(help="Closed orders in the live plan at each step, comma-separated.")
    ] = "0,10000,100000",
    open_orders: Annotated[
        int, typer.Option("--open", min=1, help="Open orders in the live plan.")
    ] = 300,
    closed_in: Annotated[
        ClosedIn, typer.Option(help="Where closed orders' slots lie: as now, or as before.")
    ] = ClosedIn.SUPERSEDED,
    repeat: Annotated[int, typer.Option(min=1, help="Calls of each read per step.")] = 15,
    database_url: BenchDatabaseUrl = None,
    as_json: AsJson = False,
    out: BenchOut = None,
) -> None:
    """The live plan's reads (placement, scenario snapshot, order lists, planning page) as
    shipped orders' slots pile up, against a primary-key read."""
    from bench.history import measure

    sizes = whole_numbers(closed, "--closed", at_least=0)
    progress = Console(stderr=True)
    result = measure(
        database_url or None, sizes, open_orders, repeat, 1, closed_in.value, progress.print, out
    )
    if as_json:
        print_result(result, as_json)
        return
    reads = list(result["steps"][0]["ms"])
    table = Table(title=f"{result['benchmark']} ({result['database']}): ms (÷ primary-key read)")
    for column in ("closed orders", *reads):
        table.add_column(column.replace("_", " "), justify="right")
    for step in result["steps"]:
        cells = [f"{step['ms'][r]:.2f} ({step['ratio_to_primary_key_read'][r]:g})" for r in reads]
        table.add_row(f"{step['closed_orders']:,}", *cells)
    console.print(table)
    console.print(f"growth, most history against least: {result['growth']}")


@bench_app.command("intake")
def bench_intake(
    lines: Annotated[int, typer.Option(min=1, max=100_000, help="Lines in the CSV.")] = 100_000,
    repeat: Annotated[int, typer.Option(min=1, help="Samples of each side.")] = 3,
    database_url: BenchDatabaseUrl = None,
    as_json: AsJson = False,
    out: BenchOut = None,
) -> None:
    """A CSV batch until its aggregate is ready, against a bare insert plus GROUP BY."""
    from bench.intake import measure

    progress = Console(stderr=True)
    result = measure(database_url or None, lines, repeat, progress.print, out)
    print_result(result, as_json)


@bench_app.command("scenario")
def bench_scenario(
    orders: Annotated[int, typer.Option(min=1, help="Open production orders in the plan.")] = 1000,
    time_limit: Annotated[float, typer.Option(min=1, help="The scenario's solve limit, s.")] = 60,
    seed: Annotated[int, typer.Option(help="Seed of the generated orders.")] = 1,
    placed_since: Annotated[
        int, typer.Option(min=0, help="Orders placed after the snapshot, before the apply.")
    ] = 20,
    database_url: BenchDatabaseUrl = None,
    as_json: AsJson = False,
    out: BenchOut = None,
) -> None:
    """A factory-down scenario on a live plan of N orders, through the API: time to the
    first plan, progress cadence and final gap, against the in-process greedy plan; then
    the apply over orders placed since."""
    from bench.scenario import measure

    progress = Console(stderr=True)
    result = measure(
        database_url or None, orders, time_limit, seed, progress.print, out, placed_since
    )
    print_result(result, as_json)


def print_result(result: dict[str, Any], as_json: bool) -> None:
    """A benchmark's result as JSON, or as a two-column table."""
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=result["benchmark"])
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        if key != "benchmark":
            table.add_row(key, str(value))
    console.print(table)


@app.command()
def demo(
    # 1200x: a week's work, which pauses over the factories' nights, in three minutes or so.
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1200.0,
    keep: Annotated[
        bool, typer.Option(help="Keep the stack up at the end, to look around.")
    ] = True,
) -> None:
    """The demo week on the embedded stack: two buyer teams, simulated factories, a
    factory down mid-week and a planner's scenario around it; then the lead times."""
    from c2b.demo import run_demo

    settings = get_settings()
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    raise typer.Exit(run_demo(settings.data_dir / f"demo-{stamp}", speed, console, keep))


@app.command()
def dev() -> None:
    """Run the whole platform on one machine: Temporal dev server, worker and API (make run)."""
    from c2b.devstack import run_dev_stack

    raise typer.Exit(run_dev_stack(get_settings(), console))


def _safe(url: str) -> str:
    """The URL without a password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':')[0]}@{host}"
    return url


@simulate_app.command("factories")
def simulate_factories(
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 600.0,
    defect_rate: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.02,
    vanish_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Chance to abandon a claimed work order.")
    ] = 0.0,
    reject_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Chance to refuse a claimed work order.")
    ] = 0.0,
    seconds: Annotated[float | None, typer.Option(help="Stop after this long.")] = None,
    api_url: Annotated[str | None, typer.Option(help="Default: the settings' API.")] = None,
) -> None:
    """Run every factory as a simulated client of the API, with its own token."""
    from models.tables import Factory

    settings = get_settings()
    url = api_url or f"http://{settings.api_host}:{settings.api_port}"
    with database_session() as session:
        factories = [
            SimulatedFactory(
                f.code, create_token(session, Role.FACTORY, f.id, f"simulator:{f.code}").token
            )
            for f in session.exec(select(Factory).order_by(col(Factory.id))).all()
        ]
    cfg = SimulationConfig(
        speed=speed, defect_rate=defect_rate, vanish_rate=vanish_rate, reject_rate=reject_rate
    )
    asyncio.run(_simulate(url, factories, cfg, seconds))


async def _simulate(
    url: str, factories: list[SimulatedFactory], cfg: SimulationConfig, seconds: float | None
) -> None:
    from rich.live import Live

    loop = asyncio.get_running_loop()
    end = None if seconds is None else loop.time() + seconds

    def stop() -> bool:
        return end is not None and loop.time() >= end

    def table() -> Table:
        t = Table(title=f"simulated factories at {cfg.speed:g}x against {url}")
        columns = [field.name for field in dataclasses.fields(FactoryStats)]
        for column in ("factory", *columns):
            t.add_column(column)
        for f in factories:
            stats = dataclasses.asdict(f.stats)
            t.add_row(f.code, *(str(stats[c]) for c in columns))
        return t

    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        tasks = [asyncio.create_task(run_factory(http, f, cfg, stop)) for f in factories]
        with Live(table(), console=console, refresh_per_second=2) as live:
            try:
                while not all(t.done() for t in tasks):
                    live.update(table())
                    await asyncio.sleep(0.5)
            except (KeyboardInterrupt, asyncio.CancelledError):
                for t in tasks:
                    t.cancel()
            live.update(table())


def _one_line_summaries(group: typer.Typer) -> None:
    """Give every command of ``group`` (and of its sub-groups) its docstring's first
    paragraph as one line for the command lists of ``--help``. Typer's rich help keeps a
    paragraph's line breaks there (not on the command's own page), which cut sentences in
    the middle of the table."""
    for command in group.registered_commands:
        if command.short_help is None and command.help is None and command.callback:
            first = (inspect.getdoc(command.callback) or "").split("\n\n")[0]
            command.short_help = " ".join(first.split()) or None
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _one_line_summaries(sub.typer_instance)


_one_line_summaries(app)
