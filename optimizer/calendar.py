"""Factory calendars as closed time on the scheduler's clock (minutes from the horizon's
start, which is a midnight): shifts on working weekdays are open, everything else
(nights, days off, holidays) is closed."""

from __future__ import annotations

DAY = 24 * 60


def closed_intervals(
    shifts: list[tuple[int, int]],
    days: int,
    working_weekdays: frozenset[int] = frozenset(range(6)),
    holidays: frozenset[int] = frozenset(),
    first_weekday: int = 0,
) -> list[tuple[int, int]]:
    """Closed [start, end) intervals over ``days`` days. ``shifts`` are (start, end) minutes
    of the day (an end past midnight, e.g. (1320, 1800), runs into the next day);
    ``working_weekdays`` count from Monday = 0; ``holidays`` are day numbers from the
    horizon's start; ``first_weekday`` is the weekday of day 0."""
    open_windows = sorted(
        (day * DAY + start, day * DAY + end)
        for day in range(days)
        if (first_weekday + day) % 7 in working_weekdays and day not in holidays
        for start, end in shifts
    )
    closed, cursor = [], 0
    for start, end in open_windows:
        if start > cursor:
            closed.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < days * DAY:
        closed.append((cursor, days * DAY))
    return closed
