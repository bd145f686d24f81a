"""FastAPI dependencies: the database session, the Temporal client and the caller.

The composition root puts a ``Runtime`` on ``app.state``; routes reach it only through
these dependencies, so tests can swap any of them with ``app.dependency_overrides``.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Concatenate, ParamSpec, TypeVar

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, select
from temporalio.client import Client

from api.limits import AuthFailureLimiter
from api.notifier import WorkNotifier
from models.queues import SOLVER_TASK_QUEUE
from models.rules import hash_token
from models.schemas import DesignGateSettings, LifecycleSettings, Role
from models.tables import ApiToken


@dataclass(frozen=True)
class ApiConfig:
    orchestration_task_queue: str
    solver_task_queue: str = SOLVER_TASK_QUEUE
    pick_window_hours: float = 48.0
    max_body_bytes: int = 16_000_000
    # Origins whose pages may call the API from a browser; none by default.
    cors_origins: tuple[str, ...] = ()
    lease_minutes: float = 15.0
    # How test batches are judged (observation window, decision window, reorder rule).
    lifecycle: LifecycleSettings = field(default_factory=LifecycleSettings)
    design_gate: DesignGateSettings = field(default_factory=DesignGateSettings)


@dataclass(frozen=True)
class Principal:
    token_id: int
    name: str
    role: Role
    scope_id: int | None

    @property
    def lease_holder(self) -> str:
        return f"token-{self.token_id}"


@dataclass
class PrincipalCache:
    """Tokens verified in the last ``ttl`` seconds, so a polling factory is not looked up
    in the database on every request. A revoked token keeps working for at most ``ttl``."""

    ttl: float = 5.0
    max_entries: int = 10_000
    _entries: dict[str, tuple[Principal, float]] = field(default_factory=dict)

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, digest: str, principal: Principal) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[digest] = (principal, time.monotonic() + self.ttl)


@dataclass
class Runtime:
    """What the API needs from the composition root."""

    session_factory: Callable[[], Session]
    connect_temporal: Callable[[], Awaitable[Client]]
    config: ApiConfig
    notifier: WorkNotifier
    temporal: Client | None = None
    principals: PrincipalCache = field(default_factory=PrincipalCache)
    auth_failures: AuthFailureLimiter = field(default_factory=AuthFailureLimiter)


async def get_runtime(request: Request) -> Runtime:
    # Dependencies without I/O are async: a sync one costs a thread-pool hop per request.
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[Session]:
    """The request's session. Routes do their database work in worker threads; making the
    session does no I/O, so this runs on the event loop. So does closing it: a session
    still holding a connection (a plain ``def`` route that only read) gives it back with
    a rollback, well under a millisecond, and must not wait for a worker thread to do so.
    The threads may all be waiting for that very connection, and it would come back only
    at the pool's timeout (tests/api/test_connections.py)."""
    session = runtime.session_factory()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]


P = ParamSpec("P")
T = TypeVar("T")


class ReleasingRoute(APIRoute):
    """Every router's route class: a plain ``def`` route closes its sessions in its own
    worker thread as it returns. FastAPI validates the answer of such a route in another
    worker thread and tears its dependencies down later still; a session that held its
    connection until then would wait for a free thread while every thread may be waiting
    for that connection (tests/api/test_connections.py)."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _releasing(endpoint)
        super().__init__(path, endpoint, **kwargs)


def _releasing(endpoint: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(endpoint)
    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return endpoint(*args, **kwargs)
        finally:
            for value in kwargs.values():
                if isinstance(value, Session):
                    value.close()

    return call


async def read_and_release(
    session: Session, read: Callable[Concatenate[Session, P], T], *args: P.args, **kw: P.kwargs
) -> T:
    """``read(session, ...)`` in a worker thread, the session closed after: for a request
    that then waits on Temporal (a query or an Update can take seconds on a loaded
    machine) and must hold no pooled connection meanwhile."""

    def closing() -> T:
        with contextlib.closing(session):
            return read(session, *args, **kw)

    return await run_in_threadpool(closing)


async def get_temporal(runtime: RuntimeDep) -> Client:
    if runtime.temporal is None:
        # The lifespan connects at start-up; this covers a Temporal server that was down then.
        try:
            runtime.temporal = await runtime.connect_temporal()
        except Exception as err:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE, f"Temporal is not reachable: {err}"
            ) from err
    return runtime.temporal


TemporalDep = Annotated[Client, Depends(get_temporal)]


bearer = HTTPBearer(auto_error=False, description="A token from `c2b token create`.")


async def get_principal(
    request: Request,
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    unauthorized = HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "a valid bearer token is required",
        headers={"WWW-Authenticate": "Bearer"},
    )
    if credentials is None or not credentials.credentials:
        raise unauthorized
    principal = await principal_of(runtime, session, credentials.credentials, client_of(request))
    if principal is None:
        raise unauthorized
    return principal


def client_of(request: Request) -> str:
    """The caller's address (behind a proxy, what uvicorn's --forwarded-allow-ips makes it)."""
    return request.client.host if request.client else "unknown"


async def principal_of(
    runtime: Runtime, session: Session, token: str, client: str
) -> Principal | None:
    """Who a token is, or None for an unknown or revoked one (the web page's cookie
    carries the same tokens as the bearer header). A client that presented too many
    invalid tokens lately is refused with 429 before its token is looked at."""
    wait = runtime.auth_failures.retry_after(client)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many invalid tokens from this address; try again later",
            headers={"Retry-After": str(max(1, round(wait)))},
        )
    digest = hash_token(token)
    principal = runtime.principals.get(digest)
    if principal is None:
        principal = await run_in_threadpool(_look_up, session, digest)
        if principal is not None:
            runtime.principals.put(digest, principal)
        else:
            runtime.auth_failures.failed(client)
    return principal


def _look_up(session: Session, digest: str) -> Principal | None:
    # The route may next wait on the event loop (a long-poll, a workflow): hold no
    # connection meanwhile. The session opens a new transaction when the route needs one.
    with contextlib.closing(session):
        token = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).one_or_none()
    # The lookup is by hash; compare again in constant time so timing says nothing either way.
    if token is None or not hmac.compare_digest(token.token_hash, digest) or token.revoked_at:
        return None
    assert token.id is not None
    return Principal(token_id=token.id, name=token.name, role=token.role, scope_id=token.scope_id)


def require(*roles: Role, admin: bool = True) -> Callable[..., Awaitable[Principal]]:
    """A dependency that lets through only the given roles (and admins, unless a role needs
    a scope of its own, as a factory does)."""

    allowed = {*roles, Role.ADMIN} if admin else set(roles)

    async def check(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this endpoint is for {', '.join(sorted(r.value for r in roles))}",
            )
        return principal

    return check


BuyerDep = Annotated[Principal, Depends(require(Role.BUYER))]
FactoryDep = Annotated[Principal, Depends(require(Role.FACTORY, admin=False))]
DesignerDep = Annotated[Principal, Depends(require(Role.DESIGNER))]
PlannerDep = Annotated[Principal, Depends(require(Role.PLANNER))]
AnyPrincipalDep = Annotated[Principal, Depends(get_principal)]
