"""The optimizer is pure: no database (an import-linter contract keeps it so), and neither
do its benchmarks' readers and generators. Its tests run in CI's SQLite pass only, so the
PostgreSQL pass does not repeat them to the letter within CI's time."""

from __future__ import annotations

import os

import pytest

from tests.conftest import in_one_pass


@pytest.fixture(autouse=True)
def _in_the_sqlite_pass_only() -> None:
    in_one_pass(os.environ.get("DATABASE_URL", ""), "sqlite", "the optimizer uses no database")
