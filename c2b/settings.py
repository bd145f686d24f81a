"""Settings from the environment (and an optional ``.env``), read once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.queues import ORCHESTRATION_TASK_QUEUE, SOLVER_TASK_QUEUE

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = PROJECT_ROOT / ".data"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(default=DEFAULT_DATA_DIR, alias="C2B_DATA_DIR")
    database_url: str = Field(default="", alias="DATABASE_URL")
    temporal_address: str = Field(default="127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    # How long a worker waits for a Temporal server that is not up yet before it gives up.
    temporal_connect_wait_s: float = Field(default=60.0, ge=0, alias="C2B_TEMPORAL_CONNECT_WAIT_S")
    orchestration_task_queue: str = Field(
        default=ORCHESTRATION_TASK_QUEUE, alias="C2B_ORCHESTRATION_TASK_QUEUE"
    )
    solver_task_queue: str = Field(default=SOLVER_TASK_QUEUE, alias="C2B_SOLVER_TASK_QUEUE")
    temporal_ui_port: int = Field(default=8233, alias="C2B_TEMPORAL_UI_PORT")
    api_host: str = Field(default="127.0.0.1", alias="C2B_API_HOST")
    api_port: int = Field(default=8000, alias="C2B_API_PORT")
    pick_window_hours: float = Field(default=48.0, gt=0, alias="C2B_PICK_WINDOW_HOURS")
    max_body_bytes: int = Field(default=16_000_000, gt=0, alias="C2B_MAX_BODY_BYTES")
    # host:port where the worker and the solver serve the Temporal SDK's metrics; off if empty.
    worker_metrics_address: str = Field(default="", alias="C2B_WORKER_METRICS_ADDRESS")
    solver_metrics_address: str = Field(default="", alias="C2B_SOLVER_METRICS_ADDRESS")
    # Logs: text lines, or one JSON object per line with the order and work-order ids.
    log_format: str = Field(default="text", pattern="^(text|json)$", alias="C2B_LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="C2B_LOG_LEVEL")
    # OpenTelemetry tracing: empty (off), console, file:PATH or otlp (c2b/tracing.py).
    tracing: str = Field(default="", alias="C2B_TRACING")
    # Browser origins allowed to call the API, comma-separated; none by default (CORS closed).
    cors_origins: str = Field(default="", alias="C2B_CORS_ORIGINS")
    # Invalid tokens one client address may present per minute before it gets 429s.
    auth_failures_per_minute: int = Field(default=30, gt=0, alias="C2B_AUTH_FAILURES_PER_MINUTE")
    lease_minutes: float = Field(default=15.0, gt=0, alias="C2B_LEASE_MINUTES")
    # A defect spike holds a work centre: its latest N completions with this share or more
    # of their pieces defective (activities.production.DefectSpike).
    defect_spike_completions: int = Field(default=5, ge=1, alias="C2B_DEFECT_SPIKE_COMPLETIONS")
    defect_spike_share: float = Field(default=0.2, gt=0, le=1, alias="C2B_DEFECT_SPIKE_SHARE")
    observation_days: float = Field(default=14.0, gt=0, alias="C2B_OBSERVATION_DAYS")
    decision_hours: float = Field(default=72.0, gt=0, alias="C2B_DECISION_HOURS")
    design_escalate_hours: float = Field(default=24.0, gt=0, alias="C2B_DESIGN_ESCALATE_HOURS")
    design_cancel_hours: float = Field(default=120.0, gt=0, alias="C2B_DESIGN_CANCEL_HOURS")
    # The orchestration worker runs workflows outside Temporal's sandbox: the sandbox costs
    # the worker about a third of its CPU (bench/orchestration.py). The test suite runs
    # every workflow inside it, so a call it forbids still fails a test (c2b.worker).
    workflow_sandbox: bool = Field(default=False, alias="C2B_WORKFLOW_SANDBOX")
    # Workflows the orchestration worker keeps in memory between their tasks (the SDK's
    # sticky cache); one evicted is replayed from its history at its next task. Running
    # scenarios wait there up to a day for an apply (docs/performance.md, the soak).
    max_cached_workflows: int = Field(default=1000, ge=0, alias="C2B_MAX_CACHED_WORKFLOWS")

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        return tuple(o.strip() for o in self.cors_origins.split(",") if o.strip())

    @property
    def effective_database_url(self) -> str:
        """``DATABASE_URL``, or the embedded SQLite file under the data directory."""
        return self.database_url or f"sqlite:///{self.data_dir / 'c2b.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
