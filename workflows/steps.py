"""How workflows call database activities: one timeout and retry policy for all of them.

Deterministic helper; it only schedules activities.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

A = TypeVar("A")
R = TypeVar("R")

DB_STEP_TIMEOUT = timedelta(seconds=30)
# Infrastructure failures (a locked or restarting database) retry with backoff; business
# refusals from activities.base.business_error are non-retryable already.
DB_STEP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


# Database steps run as local activities: in the worker that runs the workflow, recorded
# as one marker event, with no round trip through the server's task queues. An order's
# dozen short steps cost the dev server about a sixth of what regular activities did
# (bench/orchestration.py). Histories from before the patch replay as regular activities.
LOCAL_DB_STEPS = "local-db-steps"


class Patches:
    """Which patches a workflow run takes.

    A run started on the current code asks one patch, ``current``, in its first
    activation, and takes every patch in ``included`` without asking. A run from before
    ``current`` asks each patch where its code asks it, as it did when it ran.

    Why not ask each: every patch a run asks costs a marker in its history and an upsert
    of the TemporalChangeVersion search attribute (a visibility write on the server). And
    a patch first asked after a local activity can break the replay: a workflow task can
    be completed holding a local activity's marker but not what the workflow then did
    (seen under load on the test server, 2 runs in 40); on replay the patch is not known
    yet when asked, ``patched`` answers False, and the replay fails with "Non-deprecated
    patch marker encountered ... but there is no corresponding change command".

    A patch added later is asked as usual (``__call__`` with a name not in ``included``).
    It cannot simply become the next ``current`` with this one included: the runs of this
    version recorded no marker for the patches they took without asking, so they would
    need to be recognised by ``current`` first (a chain of versions).
    """

    def __init__(self, current: str, included: tuple[str, ...]) -> None:
        self._taken = (current, *included) if workflow.patched(current) else ()

    def __call__(self, patch: str) -> bool:
        return patch in self._taken or workflow.patched(patch)


async def run_db_step(method: Callable[[Any, A], R], arg: A, patches: Patches | None = None) -> R:
    """Run a database activity method with the platform's timeout and retry policy."""
    local = patches(LOCAL_DB_STEPS) if patches is not None else workflow.patched(LOCAL_DB_STEPS)
    if local:
        return await workflow.execute_local_activity_method(
            method, arg, start_to_close_timeout=DB_STEP_TIMEOUT, retry_policy=DB_STEP_RETRY
        )
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=DB_STEP_TIMEOUT, retry_policy=DB_STEP_RETRY
    )
