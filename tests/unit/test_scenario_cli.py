"""The planner CLI's numbering of a factory's applied periods: `c2b scenario withdraw
FACTORY N` takes back the N-th that `c2b scenario calendar FACTORY` lists."""

from __future__ import annotations

import pytest
import typer

from c2b.scenario_cli import listed_periods, when


def test_periods_are_numbered_overtime_then_the_factorys_then_each_centres() -> None:
    a, b, c, d = ({"start": f"2027-03-0{n}T08:00:00+00:00", "end": "x"} for n in range(1, 5))
    calendar = {
        "overtime": [a],
        "downtime": [b],
        "work_centre_downtime": {"GZ-SEW-2": [d], "GZ-SEW-1": [c]},
    }
    assert listed_periods(calendar) == [
        ("overtime", None, a),
        ("downtime", None, b),
        ("downtime", "GZ-SEW-1", c),
        ("downtime", "GZ-SEW-2", d),
    ]


def test_a_time_that_is_not_one_is_named() -> None:
    with pytest.raises(typer.BadParameter, match="--down FROM: 'soon'"):
        when("soon", "--down FROM")
