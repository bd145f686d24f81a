"""The limit a claim is measured against: a bare FastAPI route that reads one work order by
primary key from the same database, served by uvicorn the way ``c2b api`` serves the API.

    uvicorn --factory bench.baseline:build_app   (DATABASE_URL as for the platform)
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from sqlmodel import Session

from c2b.db import make_engine
from c2b.settings import get_settings
from models.tables import WorkOrder


def build_app() -> FastAPI:
    engine = make_engine(get_settings().effective_database_url)
    app = FastAPI()

    @app.get("/work-orders/{wo_id}")
    def read(wo_id: int) -> dict[str, object]:
        with Session(engine) as session:
            wo = session.get(WorkOrder, wo_id)
            if wo is None:
                raise HTTPException(404)
            return {"id": wo.id, "status": wo.status}

    return app
