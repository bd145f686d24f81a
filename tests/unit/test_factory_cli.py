"""The factory commands' own parsing, and what any command says when the API is not
there. The commands against the API: tests/api/test_factory_cli.py."""

from __future__ import annotations

import socket

import pytest
import typer
from typer.testing import CliRunner

from c2b.cli import app
from c2b.factory_cli import good_from_plan, outcome_key, size_quantities


def test_sizes_are_read_with_either_separator() -> None:
    assert size_quantities("S=20, M:40,XL=0", "--good") == {"S": 20, "M": 40, "XL": 0}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("S20", "'S20' is not SIZE=PIECES"),
        ("S=-1", "'S=-1' is not SIZE=PIECES"),
        ("=3", "'=3' is not SIZE=PIECES"),
        ("S=1,,M=2", "'' is not SIZE=PIECES"),
        ("S=1,S=2", "size S is given twice"),
    ],
)
def test_a_malformed_size_list_is_refused_by_name(text: str, says: str) -> None:
    with pytest.raises(typer.BadParameter, match=says) as refused:
        size_quantities(text, "--good")
    assert refused.value.param_hint == "--good"


def test_good_pieces_default_to_the_plan_less_the_defects() -> None:
    planned = {"S": 20, "M": 40, "L": 2}
    assert good_from_plan(planned, {"M": 2, "L": 2}) == {"S": 20, "M": 38}
    with pytest.raises(typer.BadParameter, match="3 defective L is more than the 2 planned"):
        good_from_plan(planned, {"L": 3})
    with pytest.raises(typer.BadParameter, match=r"size XL is not in this work order \(S, M, L\)"):
        good_from_plan(planned, {"XL": 1})


def test_the_same_outcome_has_the_same_key_and_another_another() -> None:
    body = {"good": [{"size": "M", "quantity": 38}], "defective": []}
    same = outcome_key("complete", 7, {"defective": [], "good": [{"quantity": 38, "size": "M"}]})
    assert outcome_key("complete", 7, body) == same
    assert outcome_key("complete", 8, body) != same
    assert outcome_key("reject", 7, body) != same


def test_an_api_that_is_not_there_is_one_line_not_a_traceback() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    result = CliRunner().invoke(
        app, ["factory", "work", "--api-url", url], env={"C2B_TOKEN": "t", "COLUMNS": "200"}
    )
    assert result.exit_code == 1
    assert f"cannot reach the API at {url} (ConnectError" in result.output
    assert "Traceback" not in result.output
