"""The names Temporal knows things by, in one place: task queues (the settings' defaults)
and the workflow ids of database rows (their ids are never reused, so neither are these)."""

ORCHESTRATION_TASK_QUEUE = "c2b-orchestration"
SOLVER_TASK_QUEUE = "c2b-solver"


def production_order_workflow_id(order_id: int) -> str:
    return f"production-order-{order_id}"


def style_lifecycle_workflow_id(lifecycle_id: int) -> str:
    return f"style-lifecycle-{lifecycle_id}"
