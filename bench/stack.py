"""Real processes for benchmarks: a throw-away database, the whole platform as ``c2b dev``
runs it (Temporal dev server, worker, API over HTTP), and other uvicorn apps beside it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess  # nosec B404
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from c2b.db import database_beside
from c2b.devstack import die_with_parent, free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


@contextlib.contextmanager
def fresh_database(url: str | None, tmp: Path, name: str) -> Iterator[str]:
    """A new, empty database for one run. Without a URL: a SQLite file under ``tmp``. With a
    PostgreSQL URL: a new database ``name`` on that server, dropped afterwards (the one in
    the URL is left alone). A SQLite URL must name a file that does not exist yet."""
    if url is None:
        yield f"sqlite:///{tmp / name}.db"
        return
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        if parsed.database and Path(parsed.database).exists():
            raise SystemExit(f"{url}: a benchmark needs a new database file, not an existing one")
        yield url
        return
    with database_beside(url, name) as own:
        yield own


@dataclass(frozen=True)
class Stack:
    api_url: str
    temporal_address: str
    env: dict[str, str]
    pid: int = 0  # of ``c2b dev``: its children are the platform's processes


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.3)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s; log {log}:\n{tail}")


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        # A killed benchmark takes its servers with it (as ``c2b dev`` does its children).
        # Our own binaries from an argument list, never through a shell.
        process = subprocess.Popen(  # nosec B603
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=PROJECT_ROOT,
            preexec_fn=die_with_parent,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def platform_env(database_url: str, data_dir: Path) -> tuple[dict[str, str], tuple[int, int, int]]:
    """The environment of the platform's processes on ``database_url`` with free ports,
    and those ports: Temporal, its UI, the API."""
    temporal, ui, api = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "C2B_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal}",
        "C2B_TEMPORAL_UI_PORT": str(ui),
        "C2B_API_HOST": "127.0.0.1",
        "C2B_API_PORT": str(api),
    }
    return env, (temporal, ui, api)


@contextlib.contextmanager
def running_platform(database_url: str, data_dir: Path) -> Iterator[Stack]:
    """``c2b dev`` on free ports and ``database_url``: migrated, seeded, healthy."""
    env, (temporal, _ui, api) = platform_env(database_url, data_dir)
    log = data_dir / "dev.log"
    with _process([sys.executable, "-m", "c2b", "dev"], env, log) as process:
        api_url = f"http://127.0.0.1:{api}"
        _wait_healthy(f"{api_url}/health", process, log, timeout=120)
        yield Stack(
            api_url=api_url, temporal_address=f"127.0.0.1:{temporal}", env=env, pid=process.pid
        )


@contextlib.contextmanager
def served(app_factory: str, env: dict[str, str], log: Path, probe: str) -> Iterator[str]:
    """Another app (``module:factory``) under uvicorn as ``c2b api`` runs the API: one
    process, log level warning. Yields its base URL once ``probe`` answers 200."""
    port = free_port()
    args = [sys.executable, "-m", "uvicorn", "--factory", app_factory]
    args += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with _process(args, env, log) as process:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(f"{url}{probe}", process, log, timeout=60)
        yield url


def measure_on_fresh_database(
    name: str,
    database_url: str | None,
    run: Callable[[str, Path], dict[str, Any]],
    say: Callable[[str], None],
    out: Path | None,
) -> dict[str, Any]:
    """``run(url, data_dir)`` once on a fresh database; its result is also written to
    ``out`` (default bench/results/<name>-<database>.json). A failed run keeps its logs."""
    tmp = Path(tempfile.mkdtemp(prefix=f"c2b-bench-{name}-"))
    try:
        with fresh_database(database_url, tmp, f"c2b_bench_{name}") as url:
            result = run(url, tmp)
    except BaseException:
        say(f"the run failed; the platform's logs are kept in {tmp}")
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    out = out or RESULTS / f"{name}-{result['database']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    say(f"written to {out}")
    return result


def stack_processes(root_pid: int) -> dict[str, int]:
    """The stack's processes (children of ``c2b dev``) by name: temporal, worker, solver, api."""
    found: dict[str, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent != root_pid:
                continue
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if words and words[0].endswith("temporal"):
            found["temporal"] = int(stat.parent.name)
        elif "c2b" in words[:-1]:
            found[words[words.index("c2b") + 1]] = int(stat.parent.name)
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds process ``pid`` has used so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_by_process(processes: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of each of the stack's ``processes`` and of this one (``bench``)."""
    used = {name: cpu_seconds(pid) for name, pid in processes.items()}
    used["bench"] = cpu_seconds(os.getpid())
    return used


def cpu_ms_per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    """Milliseconds of CPU per unit of work, by process and in total, between two readings
    of ``cpu_by_process``."""
    spent = {name: (after[name] - before[name]) * 1000 / max(count, 1) for name in before}
    spent["total"] = sum(spent.values())
    return {name: round(ms, 1) for name, ms in spent.items()}
