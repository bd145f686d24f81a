"""Error translation at the HTTP edge: domain errors and failed Temporal updates become
4xx answers that name the field; nothing a caller sends may become a 500."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from models.errors import DomainError

# How long an HTTP caller waits for a workflow to answer an update before a 504.
UPDATE_RPC_TIMEOUT = timedelta(seconds=30)
# How long a read waits for a workflow's query. A query is answered by a worker: with
# none running (a restart, a crash) the server holds it for 30 s, and the page with it.
# Past this the read answers from the database alone.
QUERY_TIMEOUT = timedelta(seconds=5)

T = TypeVar("T")


class WorkflowDidNotAnswer(Exception):
    """A workflow query failed or took longer than ``QUERY_TIMEOUT``."""


async def answer_of(query: Awaitable[T]) -> T:
    """A workflow query's answer within ``QUERY_TIMEOUT``, else ``WorkflowDidNotAnswer``.
    The limit is kept here rather than as the RPC's deadline alone: the client retries an
    RPC whose deadline passed, and a 5 s deadline was seen to take 10."""
    try:
        async with asyncio.timeout(QUERY_TIMEOUT.total_seconds()):
            return await query
    except TimeoutError as err:
        raise WorkflowDidNotAnswer(f"no answer within {QUERY_TIMEOUT.total_seconds():g} s") from err
    except RPCError as err:
        raise WorkflowDidNotAnswer(str(err)) from err


STATUS_BY_ERROR_TYPE = {
    "NotFound": status.HTTP_404_NOT_FOUND,
    "Conflict": status.HTTP_409_CONFLICT,
    "LeaseNotHeld": status.HTTP_409_CONFLICT,
    "InsufficientFabric": status.HTTP_409_CONFLICT,
    "InvalidInput": status.HTTP_422_UNPROCESSABLE_CONTENT,
}


# Any 422 of the app is one of these: FastAPI's validation errors or the platform's refusal.
REFUSALS = ("HTTPValidationError", "Refusal")


def with_refusals_documented(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """The app's OpenAPI schema, where a 422 is either FastAPI's list of validation errors
    or the platform's own refusal (``domain_error_response``): one message naming the
    field. Without this the schema promised only the first (schemathesis found it)."""

    build = app.openapi  # FastAPI's own, which caches its result on the app

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Refusal"] = {
            "title": "Refusal",
            "type": "object",
            "required": ["detail"],
            "properties": {
                "detail": {"type": "string", "description": "What is wrong, naming the field."},
                "field": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
        }
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                invalid = operation.get("responses", {}).get("422")
                if invalid is None:
                    continue
                body = invalid.setdefault("content", {}).setdefault("application/json", {})
                shapes = [body["schema"]] if "schema" in body else []
                shapes += [{"$ref": f"#/components/schemas/{name}"} for name in REFUSALS]
                body["schema"] = {"anyOf": [s for i, s in enumerate(shapes) if s not in shapes[:i]]}
        return schema

    return openapi


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


# Temporal did not answer at all (down, restarting, overloaded): the request may be
# repeated, and must be, rather than be taken for a refusal.
UNREACHABLE = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        # What the client reports for a connection that broke mid-call ("transport
        # error"): the server may be restarting.
        RPCStatusCode.UNKNOWN,
    }
)


def temporal_unreachable(err: RPCError) -> bool:
    return err.status in UNREACHABLE


def temporal_unavailable(err: RPCError) -> HTTPException:
    """503 with Retry-After: what was saved stays saved; the same request, repeated, does
    the rest (found by c2b bench chaos: a 409 made clients give up during a restart)."""
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"Temporal is not answering ({err.status.name}); retry the same request in a moment",
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
        if temporal_unreachable(err):
            raise temporal_unavailable(err) from err
        raise HTTPException(status.HTTP_409_CONFLICT, f"{not_running} ({err})") from err
