"""Work that pauses over closed time: the clock arithmetic the live plan places with."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from hypothesis import given
from hypothesis import strategies as st

from models.schemas import Shift
from optimizer.calendar import (
    closed_also,
    closed_from_shifts,
    finish_after,
    merged,
    next_open,
    open_minutes,
    opened,
)

NIGHTS = [(0, 480), (1020, 1920), (2460, 2880)]  # open 8:00-17:00 on two days


def test_next_open_skips_closed_time_only() -> None:
    assert next_open(NIGHTS, 0) == 480
    assert next_open(NIGHTS, 500) == 500
    assert next_open(NIGHTS, 1020) == 1920
    assert next_open(NIGHTS, 3000) == 3000  # past the last closed interval: open


def test_work_pauses_overnight_and_goes_on_in_the_morning() -> None:
    # 600 minutes from 9:00: 480 on the first day (to 17:00), 120 on the next (8:00-10:00).
    assert finish_after(NIGHTS, 540, 600) == 1920 + 120
    assert finish_after(NIGHTS, 540, 480) == 1020  # ends exactly at the shift's end
    assert finish_after([], 540, 600) == 1140  # no calendar: a continuous clock
    assert finish_after(NIGHTS, 0, 10) == 490  # a start in closed time waits for the shift


@st.composite
def calendars(draw: st.DrawFn) -> list[tuple[int, int]]:
    cuts = sorted(draw(st.sets(st.integers(0, 3000), max_size=12)))
    pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
    return [(a, b) for a, b in pairs if b > a]


@given(calendars(), st.integers(0, 3000), st.integers(1, 2000))
def test_finish_holds_exactly_the_work_in_open_minutes(
    closed: list[tuple[int, int]], start: int, work: int
) -> None:
    begins = next_open(closed, start)
    end = finish_after(closed, start, work)
    assert open_minutes(closed, begins, end) == work
    assert next_open(closed, end - 1) == end - 1  # the last minute worked is open


def test_shifts_in_a_factorys_time_zone_become_closed_minutes_from_the_origin() -> None:
    # Shanghai is UTC+8: a shift 08:00-17:00 local is 00:00-09:00 UTC.
    shifts = [Shift(weekdays=[1, 2, 3, 4, 5, 6], start=time(8), end=time(17))]
    origin = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)  # a Monday
    closed = closed_from_shifts(shifts, "Asia/Shanghai", [], origin, days=2)
    assert closed[0] == (540, 1440)  # 09:00-24:00 UTC Monday is closed
    assert closed[1][0] == 1440 + 540


def test_a_holiday_and_a_day_off_are_closed_all_day() -> None:
    shifts = [Shift(weekdays=[1, 2, 3, 4, 5, 6], start=time(8), end=time(17))]
    saturday = datetime(2027, 3, 6, 0, 0, tzinfo=UTC)
    closed = closed_from_shifts(shifts, "UTC", [date(2027, 3, 6)], saturday, days=3)
    # Saturday (a holiday) and Sunday (no shift) are closed: Monday 08:00 is the next open minute.
    assert next_open(closed, 0) == 2 * 1440 + 480


def test_a_late_shift_runs_past_midnight() -> None:
    shifts = [Shift(weekdays=[1], start=time(17), end=time(1))]
    monday = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)
    closed = closed_from_shifts(shifts, "UTC", [], monday, days=2)
    assert next_open(closed, 0) == 17 * 60
    assert next_open(closed, 24 * 60 + 30) == 24 * 60 + 30  # 00:30 Tuesday: still the late shift
    assert next_open(closed, 24 * 60 + 60) > 24 * 60 + 60


def test_a_factory_without_shifts_is_open_around_the_clock() -> None:
    assert closed_from_shifts([], "UTC", [], datetime(2027, 3, 1, tzinfo=UTC), days=7) == []


def test_an_origin_inside_a_shift_starts_open() -> None:
    shifts = [Shift(weekdays=[1, 2, 3, 4, 5, 6, 7], start=time(8), end=time(17))]
    origin = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
    closed = closed_from_shifts(shifts, "UTC", [], origin, days=2)
    assert next_open(closed, 0) == 0
    assert closed[0] == (420, 420 + 15 * 60)


def test_closed_time_of_two_sources_merges_into_one_list() -> None:
    assert merged([(0, 10), (50, 60)], [(5, 20), (60, 70), (100, 110)]) == [
        (0, 20),
        (50, 70),
        (100, 110),
    ]


def test_the_readmes_example_1800_minutes_on_one_shift_end_on_thursday_at_eleven() -> None:
    day_shift = [Shift(weekdays=[1, 2, 3, 4, 5, 6], start=time(8), end=time(17))]
    monday_8 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    closed = closed_from_shifts(day_shift, "UTC", [], monday_8, days=7)
    assert finish_after(closed, 0, 1800) == 3 * 24 * 60 + 3 * 60


def test_overtime_opens_part_of_a_night_and_leaves_the_rest_closed() -> None:
    night = [(1020, 1920)]  # 17:00 to 08:00
    assert opened(night, [(1020, 1200)]) == [(1200, 1920)]  # three more hours
    assert opened(night, [(1500, 1560)]) == [(1020, 1500), (1560, 1920)]
    assert opened(night, [(0, 5000)]) == []
    assert opened(night, [(100, 200)]) == night


def test_a_down_period_closes_open_hours_and_joins_the_nights_it_touches() -> None:
    nights = [(0, 480), (1020, 1920)]
    assert closed_also(nights, []) is nights  # no copy for the factories without any
    assert closed_also(nights, [(600, 1100)]) == [(0, 480), (600, 1920)]
    # A work centre down over its factory's night and the next morning.
    assert next_open(closed_also(nights, [(1500, 2000)]), 1020) == 2000
