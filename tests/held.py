"""Steps held open after their commit (an aggregation, a solve), for tests of what happens
meanwhile."""

from __future__ import annotations

import asyncio
import threading

from temporalio import activity

from activities.demand import DemandActivities
from activities.scenarios import SolverActivities
from c2b.db import SessionFactory
from models.schemas import AggregateDemandInput, AggregateDemandResult

HELD_FOR = 10.0  # at most; a test lets the step go as soon as it has what it needs


class HeldAggregation(DemandActivities):
    """The real aggregation, held open after it has committed (the batch reads
    "picking") until the test lets go."""

    def __init__(self, session_factory: SessionFactory) -> None:
        super().__init__(session_factory)
        self.committed = threading.Event()
        self.release = threading.Event()

    @activity.defn(name="aggregate_demand")
    def aggregate_demand(self, inp: AggregateDemandInput) -> AggregateDemandResult:
        result = super().aggregate_demand(inp)
        self.committed.set()
        self.release.wait(HELD_FOR)
        return result


class HeldSolve(SolverActivities):
    """The real solve, held open after it has stored its plan (the scenario reads "done")
    until the test lets go: the moment before the scenario's workflow hears of it."""

    def __init__(self, session_factory: SessionFactory) -> None:
        super().__init__(session_factory)
        self.stored = threading.Event()
        self.release = threading.Event()

    @activity.defn(name="solve_scenario")
    async def solve_scenario(self, scenario_id: int) -> str:
        status = await super().solve_scenario(scenario_id)
        self.stored.set()
        await asyncio.to_thread(self.release.wait, HELD_FOR)
        return status
