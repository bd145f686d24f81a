"""Failpoints for fault tests: with ``C2B_FAILPOINTS=name[,name]`` the process dies at that
point at once (``os._exit``), as a crash or a kill -9 would. Unset, they do nothing.

The API has ``complete.after_update_accepted``; the worker's activities have
``<activity>.after_commit`` for the steps whose retry must not repeat their effect."""

from __future__ import annotations

import os

CRASH_EXIT_CODE = 86


def failpoint(name: str) -> None:
    if name in os.environ.get("C2B_FAILPOINTS", "").split(","):
        os._exit(CRASH_EXIT_CODE)
