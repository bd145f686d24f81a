"""The command lists of ``c2b --help`` and its groups: one summary per command, its
docstring's first paragraph as one line (rich help keeps a docstring's line breaks
there, which cut a sentence in the middle of the table)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from c2b.cli import app


@pytest.mark.parametrize(
    ("group", "summary"),
    [
        ([], "simulated factories, a factory down mid-week and a planner's scenario"),
        (["demand"], "and each style's minimum order quantity."),
        (["scenario"], "keeping what was placed or changed since its snapshot"),
        (["bench"], "against the Temporal dev server's one-activity workflows per second."),
    ],
)
def test_a_command_summary_reads_as_one_line(group: list[str], summary: str) -> None:
    result = CliRunner().invoke(app, [*group, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert summary in result.output
