"""The scheduler benchmark on its smallest set: rows for every instance, the textbook model
and the greedy dispatcher beside ours, and the docs table written and then replaced."""

from __future__ import annotations

from pathlib import Path

from bench.scheduler import SETS, measure


def test_the_smoke_set_writes_its_table_and_replaces_it_on_a_rerun(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Scheduler benchmarks\n\n## Set `mk`\n\nkept as it was\n")
    result = measure("smoke", time_limit_s=3, workers=2, docs=docs, results=tmp_path)
    assert [r["instance"] for r in result["rows"]] == SETS["smoke"]
    for row in result["rows"]:
        assert row["ours"] >= row["best_lb"]
        assert row["ours"] <= row["greedy"]
        assert row["textbook"] is not None
    # ft06, la01 and mk01 are small: both models reach the optimum in 3 s.
    assert result["at_best_known"] == 3 and result["mean_gap_pct"] == 0
    text = docs.read_text()
    assert "kept as it was" in text and text.count("## Set `smoke`") == 1
    assert "| ft06 | 6x6 | 55 |" in text
    measure("smoke", time_limit_s=1, workers=1, docs=docs, results=tmp_path)
    assert docs.read_text().count("## Set `smoke`") == 1
    assert (tmp_path / "scheduler-smoke.json").exists()
