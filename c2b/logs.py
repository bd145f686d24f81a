"""How every process logs: readable lines in development, one JSON object per line in
production (``C2B_LOG_FORMAT=json``), so a log store can find everything about one
production order or work order by its id.

Every row of the audit trail (``Event``) is also logged once its transaction commits, by
whichever process wrote it: ``work_order 12 completed by token-7``, with
``work_order_id: 12``, ``kind``, ``actor`` and the event's data.

Each JSON line carries ``timestamp``, ``level``, ``logger``, ``service``, ``event`` (the
message), the ids a log call passed as ``extra`` (``production_order_id``,
``work_order_id``, ``batch_id``, ...), and, from inside an activity or workflow,
Temporal's ``workflow_id``, ``run_id`` and ``activity_type``.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from models.tables import Event

# Temporal's loggers put the activity's or workflow's info in one extra dict; these keys
# of it are lifted to the top level of the line.
TEMPORAL_KEYS = ("workflow_id", "run_id", "workflow_type", "activity_type", "attempt")


def _temporal_ids(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> Any:
    for extra in ("temporal_activity", "temporal_workflow"):
        info = event.pop(extra, None)
        if isinstance(info, dict):
            for key in TEMPORAL_KEYS:
                if key in info:
                    event.setdefault(key, info[key])
    return event


def configure_logging(service: str, fmt: str = "text", level: str = "INFO") -> None:
    """Route every logger of the process (ours, Temporal's, uvicorn's) to standard error
    in ``fmt`` (text or json) at ``level``."""
    if fmt == "json":
        chain: list[Any] = [
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.ExtraAdder(),
            _temporal_ids,
        ]

        def add_service(_l: Any, _n: str, event: MutableMapping[str, Any]) -> Any:
            event["service"] = service
            return event

        chain.append(add_service)
        formatter: logging.Formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=chain,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
        )
    elif fmt == "text":
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    else:
        raise ValueError(f"C2B_LOG_FORMAT={fmt!r}: use text or json")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    log_the_trail()


TRAIL = logging.getLogger("c2b.trail")
_PENDING = "c2b_trail_pending"


def _collect(session: Session, _context: Any) -> None:
    new = [e for e in session.new if isinstance(e, Event)]
    if new:
        session.info.setdefault(_PENDING, []).extend(
            (e.entity, e.entity_id, e.kind, e.actor, dict(e.data or {})) for e in new
        )


def _emit(session: Session) -> None:
    for entity, entity_id, kind, actor, data in session.info.pop(_PENDING, []):
        TRAIL.info(
            "%s %s %s by %s",
            entity,
            entity_id,
            kind,
            actor,
            extra={f"{entity}_id": entity_id, "kind": kind, "actor": actor, "data": data},
        )


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


def log_the_trail() -> None:
    """Log each audit-trail event of this process after its transaction commits (a rolled
    back one is never logged)."""
    if not sa_event.contains(Session, "after_commit", _emit):
        sa_event.listen(Session, "after_flush", _collect)
        sa_event.listen(Session, "after_commit", _emit)
        sa_event.listen(Session, "after_rollback", _forget)
