"""The benchmark that places ``Params.full_model_operations``: both searches on the same
live plans, each no worse than the dispatcher, and the default's choice reported."""

from __future__ import annotations

import json
from pathlib import Path

from bench.neighbourhoods import measure
from optimizer.problem import Params


def test_it_solves_each_plan_both_ways_and_says_which_the_default_takes(tmp_path: Path) -> None:
    out = tmp_path / "n.json"
    result = measure([4, 40], time_limit=1.0, out=out)
    assert json.loads(out.read_text()) == result
    limit = Params().full_model_operations
    assert result["full_model_operations"] == limit
    for row in result["sizes"]:
        assert row["default_uses"] == (
            "neighbourhoods" if row["operations"] > limit else "whole_model"
        )
        for search in ("whole_model", "neighbourhoods"):
            assert row[search]["objective"] <= row["greedy_objective"], (row["orders"], search)
