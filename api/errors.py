"""Error translation at the HTTP edge: domain errors and failed Temporal updates become
4xx answers that name the field; nothing a caller sends may become a 500."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta

from fastapi import HTTPException, Request, status
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from models.errors import DomainError

# How long an HTTP caller waits for a workflow to answer an update before a 504.
UPDATE_RPC_TIMEOUT = timedelta(seconds=30)

STATUS_BY_ERROR_TYPE = {
    "NotFound": status.HTTP_404_NOT_FOUND,
    "Conflict": status.HTTP_409_CONFLICT,
    "LeaseNotHeld": status.HTTP_409_CONFLICT,
    "InsufficientFabric": status.HTTP_409_CONFLICT,
    "InvalidInput": status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def domain_error_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return JSONResponse({"detail": exc.message, "field": exc.field}, status_code=exc.status)


def database_busy_response(_request: Request, exc: Exception) -> JSONResponse:
    """Every pooled connection stayed busy for the pool's whole timeout: overload, not a
    bug in the request. 503 with Retry-After, so clients back off and try again."""
    return JSONResponse(
        {"detail": "the database is busy; retry in a moment"},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "1"},
    )


def update_failure(err: WorkflowUpdateFailedError) -> HTTPException:
    """The innermost ApplicationError of a failed update (from its validator, or from the
    activity its handler ran) decides the status; its message goes to the caller."""
    cause: BaseException | None = err.cause
    app_error: ApplicationError | None = None
    while cause is not None:
        if isinstance(cause, ApplicationError):
            app_error = cause
        cause = cause.__cause__
    if app_error is None:
        return HTTPException(status.HTTP_409_CONFLICT, str(err.cause or err))
    code = STATUS_BY_ERROR_TYPE.get(app_error.type or "", status.HTTP_409_CONFLICT)
    return HTTPException(code, app_error.message)


def update_timed_out(err: WorkflowUpdateRPCTimeoutOrCancelledError) -> HTTPException:
    return HTTPException(
        status.HTTP_504_GATEWAY_TIMEOUT,
        "the workflow did not answer in time; retry with the same Idempotency-Key",
    )


@contextlib.contextmanager
def update_errors(not_running: str) -> Iterator[None]:
    """Around a workflow Update: its refusal becomes the 4xx its error type says, an
    unanswered one a 504, and a workflow that no longer runs a 409 saying ``not_running``."""
    try:
        yield
    except WorkflowUpdateFailedError as err:
        raise update_failure(err) from err
    except WorkflowUpdateRPCTimeoutOrCancelledError as err:
        raise update_timed_out(err) from err
    except RPCError as err:
        raise HTTPException(status.HTTP_409_CONFLICT, f"{not_running} ({err})") from err
