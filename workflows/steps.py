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


async def run_db_step(method: Callable[[Any, A], R], arg: A) -> R:
    """Run a database activity method with the platform's timeout and retry policy."""
    if workflow.patched(LOCAL_DB_STEPS):
        return await workflow.execute_local_activity_method(
            method, arg, start_to_close_timeout=DB_STEP_TIMEOUT, retry_policy=DB_STEP_RETRY
        )
    return await workflow.execute_activity_method(
        method, arg, start_to_close_timeout=DB_STEP_TIMEOUT, retry_policy=DB_STEP_RETRY
    )


def patched_up_front(first: str, *later: str) -> bool:
    """``workflow.patched(first)``; where it holds, every patch in ``later`` is asked too,
    at once, so that all their markers land in the workflow's first task.

    Why: a workflow task can be completed holding a local activity's marker but not what
    the workflow did with its result, which then lands in the next task (seen under load
    on the test server, 2 runs in 40). On replay a patch first asked after that local
    activity is not known yet, so ``patched`` answers False and the replay fails with
    "Non-deprecated patch marker encountered ... but there is no corresponding change
    command". A patch asked before the first local activity has its marker in the first
    task; later calls return the remembered answer and record nothing.
    """
    if not workflow.patched(first):
        return False
    for patch in later:
        workflow.patched(patch)
    return True
