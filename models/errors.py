"""Domain errors. The API maps them to 4xx in one handler; activities turn them into
non-retryable ApplicationErrors. Each carries the field (or line) it is about."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule said no. ``status`` is the HTTP status the API answers with."""

    status: int = 422

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class InvalidInput(DomainError):
    status = 422


class PayloadTooLarge(DomainError):
    status = 413


class UnsupportedMediaType(DomainError):
    status = 415


class InsufficientFabric(Conflict):
    pass


class LeaseNotHeld(Conflict):
    pass
