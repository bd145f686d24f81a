"""Wakes long-polling factories when work is released for them, without each waiting
request querying the database: on PostgreSQL one LISTEN connection per API process (a
trigger notifies on every release); elsewhere one shared poller that runs only while
someone waits and asks one question for all waiting factories."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator

import psycopg
import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.schemas import WorkOrderStatus
from models.tables import WorkOrder

CHANNEL = "c2b_work_released"
log = logging.getLogger(__name__)


class WorkNotifier:
    """Waiters per factory; subclasses decide how they learn of released work."""

    def __init__(self) -> None:
        self._waiters: dict[int, set[asyncio.Event]] = defaultdict(set)

    @contextlib.contextmanager
    def subscribe(self, factory_id: int) -> Iterator[asyncio.Event]:
        """Subscribe before looking for work, so a release in between is not missed."""
        event = asyncio.Event()
        self._waiters[factory_id].add(event)
        self._on_subscribe()
        try:
            yield event
        finally:
            self._waiters[factory_id].discard(event)
            if not self._waiters[factory_id]:
                del self._waiters[factory_id]

    def wake(self, factory_ids: set[int] | None = None) -> None:
        """Wake the waiters of these factories (all of them when None)."""
        for factory_id, events in list(self._waiters.items()):
            if factory_ids is None or factory_id in factory_ids:
                for event in events:
                    event.set()

    @property
    def waiting_factories(self) -> set[int]:
        return set(self._waiters)

    def _on_subscribe(self) -> None:
        pass

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


class PollingNotifier(WorkNotifier):
    """One query every ``interval`` seconds for all waiting factories, only while any wait."""

    def __init__(self, session_factory: Callable[[], Session], interval: float = 0.2) -> None:
        super().__init__()
        self._sessions = session_factory
        self._interval = interval
        self._task: asyncio.Task[None] | None = None
        self.queries = 0  # for tests and benchmarks: how hard it works the database

    def _on_subscribe(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self.waiting_factories:
            await asyncio.sleep(self._interval)
            waiting = self.waiting_factories
            if not waiting:
                break
            try:
                ready = await asyncio.to_thread(self._factories_with_work, waiting)
            except sa.exc.SQLAlchemyError as err:  # a busy database: try again next tick
                log.warning("work poll failed: %s", err)
                continue
            self.wake(ready)

    def _factories_with_work(self, factory_ids: set[int]) -> set[int]:
        self.queries += 1
        with self._sessions() as session:
            rows = session.exec(
                select(WorkOrder.factory_id)
                .where(
                    col(WorkOrder.status) == WorkOrderStatus.RELEASED,
                    col(WorkOrder.factory_id).in_(factory_ids),
                )
                .distinct()
            ).all()
        return set(rows)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class PostgresNotifier(WorkNotifier):
    """LISTEN on one connection; the work_order trigger NOTIFYs with the factory id."""

    def __init__(self, dsn: str, reconnect_seconds: float = 1.0) -> None:
        super().__init__()
        self._dsn = dsn
        self._reconnect = reconnect_seconds
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen_forever())

    async def _listen_forever(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._dsn, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    # Anything released while we were not listening: let waiters look.
                    self.wake()
                    async for note in conn.notifies():
                        if note.payload.isdigit():
                            self.wake({int(note.payload)})
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.listening.clear()
                log.warning("LISTEN %s lost (%s); reconnecting", CHANNEL, err)
                self.wake()  # waiters fall back to one look at the database each
                await asyncio.sleep(self._reconnect)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def notifier_for(url: str, session_factory: Callable[[], Session]) -> WorkNotifier:
    """LISTEN/NOTIFY on PostgreSQL, the shared poller elsewhere."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return PostgresNotifier(
            parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        )
    return PollingNotifier(session_factory)
