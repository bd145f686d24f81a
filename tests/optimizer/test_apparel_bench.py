"""The apparel generator is reproducible and its benchmark reports every figure."""

from __future__ import annotations

from pathlib import Path

from bench.apparel import generate, measure
from optimizer.check import violations
from optimizer.greedy import dispatch


def test_the_generator_is_reproducible_and_looks_like_apparel() -> None:
    a, b = generate(60, seed=3), generate(60, seed=3)
    assert a == b and a != generate(60, seed=4)
    factories = {c.factory for c in a.work_centres}
    assert 8 <= len(factories) <= 12
    assert all(4 <= len(o.operations) <= 6 for o in a.orders)
    assert all(o.operations[0].name == "cut" and o.operations[-1].name == "pack" for o in a.orders)
    assert violations(a, dispatch(a)) == []


def test_the_benchmark_reports_every_figure(tmp_path: Path) -> None:
    result = measure(40, time_limit_s=3, workers=2, seed=2, out=tmp_path / "s.json")
    for key in (
        "first_feasible_s",
        "greedy_weighted_tardiness",
        "cpsat_weighted_tardiness",
        "improvement",
        "gap",
        "insert_seconds",
        "moved_fraction",
    ):
        assert key in result, key
    assert result["cpsat_weighted_tardiness"] <= result["greedy_weighted_tardiness"]
    assert 0 <= result["moved_fraction"] <= 1
    assert (tmp_path / "s.json").exists()
