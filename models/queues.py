"""Task-queue names: the defaults of the settings, in one place."""

ORCHESTRATION_TASK_QUEUE = "c2b-orchestration"
SOLVER_TASK_QUEUE = "c2b-solver"
