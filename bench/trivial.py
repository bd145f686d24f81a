"""The Temporal dev server's limit, as the orchestration benchmark's baseline: a workflow
that runs one activity that does nothing. Nothing a workflow can do costs less."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow


@activity.defn
async def nothing(n: int) -> int:
    return n


@workflow.defn
class OneActivityWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(
            nothing, n, start_to_close_timeout=timedelta(seconds=30)
        )
