"""A workflow task split right after a local activity still replays.

Under load, a task can be completed holding a local activity's marker but not what the
workflow did with its result; that lands in the next task. A patch first asked there
made the replay fail ("Non-deprecated patch marker encountered ... but there is no
corresponding change command"): 2 runs in 40 of the cancellation test beside two CPU
hogs. A run on the current code now asks one patch, in its first activation, and takes
the earlier ones without asking (``workflows.steps.Patches``): 0 failures in 120 runs,
9 of them split. The saved history below is one of those.
"""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

from tests.workflows.test_demand_batch_workflow import HISTORIES, replayer

SPLIT = HISTORIES / "production_order_split_task.json"


async def test_a_task_split_after_the_first_local_activity_replays() -> None:
    history = WorkflowHistory.from_json("split", SPLIT.read_text())
    events = list(history.events)
    first_marker = next(
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    )
    # The split: a new task right after start_order's marker, and the order's search
    # attributes (what the workflow did with start_order's result) only in that task.
    assert events[first_marker + 1].event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED
    indexed = [
        i
        for i, e in enumerate(events)
        if e.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        and "C2bOrderId"
        in e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields
    ]
    assert indexed and indexed[0] > first_marker
    await replayer().replay_workflow(history)
