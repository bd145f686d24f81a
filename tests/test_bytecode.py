"""The worker keeps bytecode for the modules the workflow sandbox imports on every run."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from c2b.worker import cache_bytecode


def test_bytecode_is_cached_outside_the_source_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as PYTHONDONTWRITEBYTECODE=1
    monkeypatch.setattr(sys, "pycache_prefix", None)
    source = tmp_path / "src"
    source.mkdir()
    (source / "c2b_probe_module.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(source))

    cache_bytecode(tmp_path / "cache")
    module = importlib.import_module("c2b_probe_module")
    try:
        assert module.VALUE == 42
        cached = list((tmp_path / "cache").rglob("c2b_probe_module*.pyc"))
        assert len(cached) == 1
        assert not (source / "__pycache__").exists()
    finally:
        sys.modules.pop("c2b_probe_module", None)
