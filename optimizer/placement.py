"""Earliest-free-slot placement of one production order into an existing plan.

The stand-in for the CP-SAT scheduler (issue 6) behind the same kind of interface: a pure
function on integer minutes from the horizon start. It must not touch a database or print.
An operation runs in its factory's open time only and pauses over closed time (nights,
days off, holidays): its slot [start, end) starts in open time and spans the closed time
it pauses over (``optimizer.calendar.finish_after``). A work centre without a calendar is
open around the clock.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SkipValidation

from optimizer.calendar import finish_after, next_open


class WorkCentreSlot(BaseModel):
    """A work centre that can run an operation, with what it already has to do."""

    work_centre_id: int
    factory_id: int
    efficiency: float = Field(gt=0)
    # Intervals [start, end) already taken in the live plan, in minutes.
    busy: list[tuple[int, int]] = Field(default_factory=list)
    # Its factory's closed time [start, end), sorted, in the same minutes; none: always open.
    # Not validated: it is a year of a factory's calendar (from ``optimizer.calendar``, not
    # from a request) for every eligible work centre, and validating it took placing 300
    # orders from about 19 ms an order (no calendars) to 30-36 ms; now it is 20-21.
    closed: SkipValidation[list[tuple[int, int]]] = Field(default_factory=list)


class OperationToPlace(BaseModel):
    seq: int
    operation_kind: str
    quantity: int = Field(gt=0)
    setup_minutes: float = Field(ge=0)
    standard_minutes: float = Field(gt=0)
    eligible: list[WorkCentreSlot] = Field(min_length=1)


class PlacementProblem(BaseModel):
    release_minute: int = Field(ge=0)
    transfer_minutes: int = Field(default=0, ge=0)
    operations: list[OperationToPlace] = Field(min_length=1)


class Placement(BaseModel):
    seq: int
    work_centre_id: int
    factory_id: int
    start: int
    end: int


def duration_minutes(op: OperationToPlace, wc: WorkCentreSlot) -> int:
    return run_minutes(op.setup_minutes, op.standard_minutes, op.quantity, wc.efficiency)


def run_minutes(setup: float, standard: float, quantity: int, efficiency: float) -> int:
    """Setup plus quantity × standard minutes ÷ efficiency, rounded up to a whole minute:
    how long an operation takes on a work centre, in the live plan and in scenarios."""
    raw = setup + quantity * standard / efficiency
    return max(1, int(-(-raw // 1)))


def earliest_slot(
    busy: list[tuple[int, int]], closed: list[tuple[int, int]], ready: int, work: int
) -> tuple[int, int]:
    """The first slot [start, end) at or after ``ready`` that holds ``work`` open minutes
    without touching a busy interval: it starts in open time and pauses over closed time."""
    start = next_open(closed, ready)
    end = finish_after(closed, start, work)
    for b_start, b_end in sorted(busy):
        if b_end <= start:
            continue
        if b_start >= end:
            break
        start = next_open(closed, b_end)
        end = finish_after(closed, start, work)
    return start, end


def place_order(problem: PlacementProblem) -> list[Placement]:
    """Place each operation, in routing order, on the eligible work centre that finishes it
    first; an operation starts after its predecessor ends, plus a transfer when the factory
    changes."""
    placements: list[Placement] = []
    ready = problem.release_minute
    prev_factory: int | None = None
    for op in sorted(problem.operations, key=lambda o: o.seq):
        best: Placement | None = None
        for wc in op.eligible:
            length = duration_minutes(op, wc)
            transfer = (
                problem.transfer_minutes
                if prev_factory is not None and wc.factory_id != prev_factory
                else 0
            )
            start, end = earliest_slot(wc.busy, wc.closed, ready + transfer, length)
            candidate = Placement(
                seq=op.seq,
                work_centre_id=wc.work_centre_id,
                factory_id=wc.factory_id,
                start=start,
                end=end,
            )
            # Ties go to the earlier-listed work centre, so the result is deterministic.
            if best is None or candidate.end < best.end:
                best = candidate
        assert best is not None
        placements.append(best)
        ready = best.end
        prev_factory = best.factory_id
    return placements
