"""Temporal workflows: deterministic orchestration only. No I/O, no database, no clock."""
