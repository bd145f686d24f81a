"""Environment for a stack of real processes on free ports, apart from any make run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import free_port


@pytest.fixture
def stack_env(tmp_path: Path, db_url: str) -> dict[str, str]:
    temporal_port, api_port = free_port(), free_port()
    return {
        **os.environ,
        "DATABASE_URL": db_url,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "C2B_API_PORT": str(api_port),
        "C2B_TEMPORAL_UI_PORT": str(free_port()),
        "C2B_DATA_DIR": str(tmp_path / "data"),
        "C2B_ORCHESTRATION_TASK_QUEUE": "e2e-orchestration",
    }
