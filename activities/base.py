"""What every activity class shares: the session factory type and error translation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from models.errors import DomainError, NotFound
from models.tables import Event, Style

SessionFactory = Callable[[], Session]
P = ParamSpec("P")
R = TypeVar("R")


def business_error(err: DomainError) -> ApplicationError:
    """A business rule said no: retrying will not help, so the failure is non-retryable.
    The type is the error's class name, so the API can map it back to a status. It is
    benign: an expected answer, which the worker logs at debug level and does not count
    in its failure metrics (an operator's alert on failures means something broke)."""
    return ApplicationError(
        err.message,
        {"field": err.field, "status": err.status},
        type=type(err).__name__,
        non_retryable=True,
        category=ApplicationErrorCategory.BENIGN,
    )


def translate_domain_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap an activity so a DomainError leaves it as a non-retryable ApplicationError.
    Put it under ``@activity.defn``; infrastructure errors pass through and are retried."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except DomainError as err:
            raise business_error(err) from err

    return wrapper


def style_by_code(session: Session, code: str) -> Style:
    style = session.exec(select(Style).where(Style.code == code)).one_or_none()
    if style is None:
        raise NotFound(f"style {code} not found", field="style")
    return style


def add_event(
    session: Session, entity: str, entity_id: int, kind: str, actor: str = "system", **data: object
) -> None:
    """One row of the audit trail, in the caller's transaction."""
    session.add(Event(actor=actor, entity=entity, entity_id=entity_id, kind=kind, data=data))


def add_event_once(
    session: Session, entity: str, entity_id: int, kind: str, **data: object
) -> None:
    """``add_event``, unless the entity has an event of that kind already (an escalation
    is said once, however often its activity is retried)."""
    already = session.exec(
        select(Event).where(
            Event.entity == entity, Event.entity_id == entity_id, Event.kind == kind
        )
    ).first()
    if already is None:
        add_event(session, entity, entity_id, kind, "system", **data)
