"""Factory calendars as closed time on the scheduler's clock (minutes from the horizon's
start, which is a midnight): shifts on working weekdays are open, everything else
(nights, days off, holidays) is closed."""

from __future__ import annotations

import bisect
import functools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.schemas import Shift

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
    open_windows = [
        (day * DAY + start, day * DAY + end)
        for day in range(days)
        if (first_weekday + day) % 7 in working_weekdays and day not in holidays
        for start, end in shifts
    ]
    return _closed_between(open_windows, days * DAY)


def _closed_between(open_windows: list[tuple[int, int]], until: int) -> list[tuple[int, int]]:
    """The closed intervals of [0, ``until``) around ``open_windows`` (any order, may overlap)."""
    closed, cursor = [], 0
    for start, end in sorted(open_windows):
        if start > cursor:
            closed.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < until:
        closed.append((cursor, until))
    return closed


# ---------------------------------------------------------------- work that pauses
# In the live plan an operation pauses over closed time: a sewing order of three days runs
# in the shifts of three days, and its slot [start, end) spans the nights between. The
# functions below are that clock's arithmetic on a sorted list of closed [start, end)
# intervals; past the last interval, time is open.


def next_open(closed: list[tuple[int, int]], t: int) -> int:
    """The first open minute at or after ``t``."""
    i = bisect.bisect_right(closed, (t, _FAR))
    if i and closed[i - 1][1] > t:
        return closed[i - 1][1]
    return t


def finish_after(closed: list[tuple[int, int]], start: int, work: int) -> int:
    """When ``work`` open minutes, begun at ``start`` (or the first open minute after it),
    are done: the end of the last minute worked."""
    t = next_open(closed, start)
    i = bisect.bisect_right(closed, (t, _FAR))
    left = work
    while i < len(closed) and closed[i][0] - t < left:
        left -= closed[i][0] - t
        t = closed[i][1]
        i += 1
    return t + left


def open_minutes(closed: list[tuple[int, int]], start: int, end: int) -> int:
    """Open minutes in [start, end): the work a slot holds."""
    shut = 0
    i = max(0, bisect.bisect_right(closed, (start, _FAR)) - 1)
    while i < len(closed) and closed[i][0] < end:
        a, b = closed[i]
        shut += max(0, min(b, end) - max(a, start))
        i += 1
    return max(0, end - start - shut)


_FAR = 1 << 62


def merged(*lists: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Closed intervals of several sources as one sorted list without overlaps."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(x for closed in lists for x in closed):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def closed_also(
    closed: list[tuple[int, int]], more: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """``closed`` with ``more`` closed intervals (down periods) added; ``closed`` itself
    when there are none, as ``opened`` does."""
    return merged(closed, more) if more else closed


def opened(closed: list[tuple[int, int]], windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``closed`` less the ``windows`` of extra open time (overtime). Without windows it is
    ``closed`` itself, not a copy: every placement asks for every factory's year of calendar,
    and most factories have no overtime."""
    if not windows:
        return closed
    out = []
    for a, b in closed:
        pieces = [(a, b)]
        for w_start, w_end in windows:
            pieces = [
                part
                for x, y in pieces
                for part in ((x, min(y, w_start)), (max(x, w_end), y))
                if part[1] > part[0]
            ]
        out.extend(pieces)
    return out


def closed_from_shifts(
    shifts: Sequence[Shift],
    timezone: str,
    holidays: Sequence[date],
    origin: datetime,
    days: int,
) -> list[tuple[int, int]]:
    """A factory's closed time as minutes from ``origin`` (an aware datetime), for ``days``
    days: shifts are local times in ``timezone`` on ISO weekdays (1 = Monday), a shift
    whose end is not after its start runs past midnight, and holidays are local dates. A
    factory without shifts is open around the clock (an empty list)."""
    if not shifts:
        return []
    key = tuple((tuple(s.weekdays), s.start, s.end) for s in shifts)
    return _closed_from_origin(key, timezone, tuple(sorted(holidays)), origin, days)


@functools.lru_cache(maxsize=256)
def _closed_from_origin(
    shifts: tuple[tuple[tuple[int, ...], time, time], ...],
    timezone: str,
    holidays: tuple[date, ...],
    origin: datetime,
    days: int,
) -> list[tuple[int, int]]:
    # Cached per origin too: a placement asks for every factory's calendar, and the origin
    # is the minute; callers must not change the list.
    midnight = origin.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    closed = _closed_from_midnight(shifts, timezone, holidays, midnight, days + 1)
    offset = int((origin - midnight).total_seconds() // 60)
    horizon = days * DAY
    return [
        (max(0, a - offset), min(horizon, b - offset))
        for a, b in closed
        if b > offset and a - offset < horizon
    ]


@functools.lru_cache(maxsize=256)
def _closed_from_midnight(
    shifts: tuple[tuple[tuple[int, ...], time, time], ...],
    timezone: str,
    holidays: tuple[date, ...],
    midnight: datetime,
    days: int,
) -> list[tuple[int, int]]:
    zone = ZoneInfo(timezone)
    first = midnight.astimezone(zone).date() - timedelta(days=1)
    off = set(holidays)
    windows = []
    for n in range(days + 2):
        day = first + timedelta(days=n)
        if day in off:
            continue
        for weekdays, start, end in shifts:
            if day.isoweekday() not in weekdays:
                continue
            begin = datetime.combine(day, start, zone)
            until = datetime.combine(day + timedelta(days=end <= start), end, zone)
            windows.append(
                (
                    int((begin - midnight).total_seconds() // 60),
                    int((until - midnight).total_seconds() // 60),
                )
            )
    return _closed_between(windows, days * DAY)
