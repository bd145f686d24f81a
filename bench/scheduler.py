"""Benchmark: the scheduler on public job-shop and flexible job-shop instances, against the
best-known bounds, the textbook CP-SAT model and the greedy dispatcher, all in one run.

    c2b bench scheduler --set NAME [--time-limit 30] [--workers 2] [--json]

Writes ``bench/results/scheduler-<set>.json`` and the set's section of
``docs/benchmarks.md`` (other sets' sections are kept).
"""

from __future__ import annotations

import json
import platform
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.textbook import solve_textbook
from optimizer.check import violations
from optimizer.cpsat import solve
from optimizer.greedy import dispatch
from optimizer.instances import makespan_params, read_instance

BENCH = Path(__file__).parent
INSTANCES = BENCH / "instances"
RESULTS = BENCH / "results"
DOCS = BENCH.parent / "docs" / "benchmarks.md"

SETS: dict[str, list[str]] = {
    "smoke": ["ft06", "la01", "mk01"],
    "ft": ["ft06", "ft10", "ft20"],
    "la01-20": [f"la{i:02d}" for i in range(1, 21)],
    "la21-40": [f"la{i:02d}" for i in range(21, 41)],
    "abz": [f"abz{i}" for i in range(5, 10)],
    "orb": [f"orb{i:02d}" for i in range(1, 11)],
    "mk": [f"mk{i:02d}" for i in range(1, 11)],
}


def bounds() -> dict[str, Any]:
    known: dict[str, Any] = json.loads((INSTANCES / "bks.json").read_text())
    return known


def gap_pct(value: float | None, best: float) -> float | None:
    return None if value is None else round(100.0 * (value - best) / best, 2)


def run_instance(name: str, time_limit_s: float, workers: int) -> dict[str, Any]:
    entry = bounds()[name]
    problem = read_instance(INSTANCES / entry["file"], entry["type"])
    params = makespan_params(time_limit_s, workers)
    greedy = dispatch(problem, params)
    ours = solve(problem, params)
    broken = violations(problem, ours)
    if broken:
        raise AssertionError(f"{name}: the plan breaks invariants: {broken[:3]}")
    textbook = solve_textbook(problem, time_limit_s, workers)
    return {
        "instance": name,
        "type": entry["type"],
        "size": f"{entry['n_jobs']}x{entry['n_machines']}",
        "best_lb": entry["lb"],
        "best_ub": entry["ub"],
        "greedy": greedy.kpis.makespan,
        "textbook": textbook.makespan,
        "textbook_seconds": textbook.seconds,
        "ours": ours.kpis.makespan,
        "our_lower_bound": round(ours.best_bound),
        "our_status": ours.status.value,
        "our_seconds": ours.seconds,
        "gap_pct": gap_pct(ours.kpis.makespan, entry["ub"]),
        "textbook_gap_pct": gap_pct(textbook.makespan, entry["ub"]),
        "greedy_gap_pct": gap_pct(greedy.kpis.makespan, entry["ub"]),
    }


def run_set(
    name: str, time_limit_s: float, workers: int, say: Callable[[str], None] = lambda _: None
) -> dict[str, Any]:
    if name not in SETS:
        raise ValueError(f"set {name!r}: use one of {', '.join(SETS)}")
    rows = []
    for instance in SETS[name]:
        row = run_instance(instance, time_limit_s, workers)
        say(
            f"{instance}: ours {row['ours']} (gap {row['gap_pct']}%), textbook "
            f"{row['textbook']}, greedy {row['greedy']}, best known {row['best_ub']}"
        )
        rows.append(row)

    def mean(key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return round(sum(values) / len(values), 2) if values else None

    return {
        "set": name,
        "time_limit_s": time_limit_s,
        "workers": workers,
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mean_gap_pct": mean("gap_pct"),
        "mean_textbook_gap_pct": mean("textbook_gap_pct"),
        "mean_greedy_gap_pct": mean("greedy_gap_pct"),
        "at_best_known": sum(1 for r in rows if r["ours"] == r["best_ub"]),
        "worse_than_textbook": sum(
            1 for r in rows if r["textbook"] is not None and r["ours"] > r["textbook"]
        ),
        "rows": rows,
    }


def markdown_section(result: dict[str, Any]) -> str:
    lines = [
        f"## Set `{result['set']}`",
        "",
        f"{result['time_limit_s']:g} s per instance and model, {result['workers']} workers, "
        f"measured {result['measured_at']}. Mean gap to the best known makespan: ours "
        f"{result['mean_gap_pct']}%, textbook {result['mean_textbook_gap_pct']}%, greedy "
        f"{result['mean_greedy_gap_pct']}%. At the best known: {result['at_best_known']} of "
        f"{len(result['rows'])}; worse than the textbook model: "
        f"{result['worse_than_textbook']}.",
        "",
        "| instance | size | best known (lb..ub) | greedy | textbook | ours | our bound "
        "| gap % | status | s |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in result["rows"]:
        known = (
            str(r["best_ub"]) if r["best_lb"] == r["best_ub"] else f"{r['best_lb']}..{r['best_ub']}"
        )
        lines.append(
            f"| {r['instance']} | {r['size']} | {known} | {r['greedy']} | {r['textbook']} "
            f"| {r['ours']} | {r['our_lower_bound']} | {r['gap_pct']} | {r['our_status']} "
            f"| {r['our_seconds']:.1f} |"
        )
    return "\n".join(lines) + "\n"


HEADER = """# Scheduler benchmarks

Written by `c2b bench scheduler --set NAME` (one section per set; a new run replaces its
set's section). Instances and best-known bounds: `bench/instances` (from the public lists
named in its README). *ours* is `optimizer.cpsat.solve` on the platform's own problem
model (warm-started from the greedy dispatcher); *textbook* is the plain CP-SAT
flexible job-shop model (`bench/textbook.py`); *greedy* is the earliest-due-date
dispatcher an ERP would use. Gap = (makespan - best known) / best known.
"""


def write_docs(result: dict[str, Any], docs: Path = DOCS) -> None:
    text = docs.read_text() if docs.exists() else HEADER
    section = markdown_section(result)
    pattern = re.compile(rf"## Set `{re.escape(result['set'])}`\n.*?(?=\n## Set `|\Z)", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n"), text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    docs.parent.mkdir(parents=True, exist_ok=True)
    docs.write_text(text.rstrip("\n") + "\n")


def measure(
    name: str,
    time_limit_s: float,
    workers: int,
    say: Callable[[str], None] = lambda _: None,
    docs: Path = DOCS,
    results: Path = RESULTS,
) -> dict[str, Any]:
    result = run_set(name, time_limit_s, workers, say)
    results.mkdir(parents=True, exist_ok=True)
    (results / f"scheduler-{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    write_docs(result, docs)
    return result
