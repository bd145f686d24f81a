"""Liveness and readiness: is the database there, is Temporal there."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from pydantic import BaseModel
from sqlmodel import Session, text

from api.deps import ReleasingRoute, RuntimeDep, SessionDep, read_and_release

router = APIRouter(tags=["health"], route_class=ReleasingRoute)


class Check(BaseModel):
    ok: bool
    detail: str


class Health(BaseModel):
    status: str
    database: Check
    temporal: Check


@router.get("/health", response_model=Health)
async def health(session: SessionDep, runtime: RuntimeDep, response: Response) -> Health:
    """200 when the database and Temporal both answer, 503 otherwise (with which failed)."""
    database = await read_and_release(session, _database_check)
    try:
        if runtime.temporal is None:
            runtime.temporal = await runtime.connect_temporal()
        await runtime.temporal.service_client.check_health()
        temporal = Check(ok=True, detail=runtime.temporal.service_client.config.target_host)
    except Exception as err:
        temporal = Check(ok=False, detail=str(err).splitlines()[0] if str(err) else repr(err))
    healthy = database.ok and temporal.ok
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(status="ok" if healthy else "degraded", database=database, temporal=temporal)


def _database_check(session: Session) -> Check:
    try:
        session.execute(text("SELECT 1")).scalar_one()
        return Check(ok=True, detail=session.get_bind().dialect.name)
    except Exception as err:  # any failure here is the answer, not an error of ours
        return Check(ok=False, detail=str(err).splitlines()[0])
