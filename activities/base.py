"""What every activity class shares: the session factory type and error translation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlmodel import Session
from temporalio.exceptions import ApplicationError

from models.errors import DomainError

SessionFactory = Callable[[], Session]
P = ParamSpec("P")
R = TypeVar("R")


def business_error(err: DomainError) -> ApplicationError:
    """A business rule said no: retrying will not help, so the failure is non-retryable.
    The type is the error's class name, so the API can map it back to a status."""
    return ApplicationError(
        err.message,
        {"field": err.field, "status": err.status},
        type=type(err).__name__,
        non_retryable=True,
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
