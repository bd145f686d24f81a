"""The reorder rule and the line allocation, worked by hand."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from models.rules import (
    allocate_lines,
    earliest_feasible_due,
    propose_reorder,
    run_sizes,
    size_totals,
)
from models.schemas import LifecycleSettings

SETTINGS = LifecycleSettings(observation_days=14, cover_days=28, min_sell_through=0.5)


def test_a_test_batch_that_sold_well_earns_four_weeks_of_sales_less_its_stock() -> None:
    # 200 received, 160 sold in 14 days: 11.43 a day, 80 % sell-through. 28 days of sales
    # are ceil(320) = 320 pieces; 40 are in stock: 280, over the MOQ of 100.
    p = propose_reorder(200, {"S": 40, "M": 80, "L": 40}, 14, 100, SETTINGS)
    assert p.quantity == 280 and p.size_breakdown == {"S": 70, "M": 140, "L": 70}
    assert p.sell_through == 0.8 and p.daily_rate == round(160 / 14, 3)
    assert p.reason == (
        "sold 160 of 200 in 14 days (11.4 a day, sell-through 80%): "
        "28 days of sales need 320 pieces, 40 are in stock"
    )


def test_a_small_need_is_raised_to_the_minimum_order_quantity() -> None:
    # 50 received, 30 sold in 14 days: 60 pieces for 28 days, 20 in stock: 40 < MOQ 100.
    p = propose_reorder(50, {"M": 30}, 14, 100, SETTINGS)
    assert p.quantity == 100 and p.size_breakdown == {"M": 100}
    assert p.reason.endswith("raised from 40 to the minimum order quantity of 100")


def test_below_the_sell_through_threshold_nothing_is_proposed() -> None:
    p = propose_reorder(200, {"M": 99}, 14, 100, SETTINGS)
    assert p.quantity == 0 and p.size_breakdown == {}
    assert p.reason.endswith("below the 50% sell-through a reorder needs")


def test_no_sales_at_all_proposes_nothing() -> None:
    assert propose_reorder(200, {}, 14, 100, SETTINGS).quantity == 0
    assert propose_reorder(0, {}, 14, 100, SETTINGS).quantity == 0


def test_stock_that_covers_the_cover_days_proposes_nothing() -> None:
    # 1000 received, 500 sold in 28 days: 17.9 a day, 500 pieces for 28 days, 500 in stock.
    p = propose_reorder(1000, {"M": 500}, 28, 100, SETTINGS)
    assert p.quantity == 0 and "500 pieces in stock cover 28 days" in p.reason


@given(
    received=st.integers(1, 5000),
    sold=st.dictionaries(st.sampled_from(["S", "M", "L", "XL"]), st.integers(0, 3000)),
    days=st.floats(0.5, 60),
)
def test_a_proposal_is_zero_or_at_least_the_moq_and_its_sizes_add_up(
    received: int, sold: dict[str, int], days: float
) -> None:
    p = propose_reorder(received, sold, days, 80, SETTINGS)
    assert p.quantity == 0 or p.quantity >= 80
    assert sum(p.size_breakdown.values()) == p.quantity
    assert set(p.size_breakdown) <= {size for size, units in sold.items() if units > 0}


def test_lines_are_served_whole_in_order_while_they_fit() -> None:
    served, left = allocate_lines([(1, 5), (2, 10), (3, 3), (4, 1)], 9)
    assert served == [1, 3, 4] and left == [2]


@given(st.lists(st.integers(1, 20), max_size=30), st.integers(0, 200))
def test_allocation_never_exceeds_the_quantity_and_loses_no_line(
    quantities: list[int], quantity: int
) -> None:
    lines = list(enumerate(quantities))
    served, left = allocate_lines(lines, quantity)
    assert sorted(served + left) == [i for i, _ in lines]
    assert sum(quantities[i] for i in served) <= quantity


def test_the_earliest_feasible_due_date_waits_for_the_slowest_short_fabric() -> None:
    today = date(2026, 11, 23)
    assert earliest_feasible_due(today, []) == date(2026, 11, 26)
    assert earliest_feasible_due(today, [5, 12]) == date(2026, 12, 8)


def test_a_proposal_is_capped_at_a_multiple_of_the_test_batch() -> None:
    # 30 of 40 sold in a day: 28 days would need 840 pieces; the cap is 10 x 40 = 400.
    p = propose_reorder(40, {"M": 30}, 1, 100, SETTINGS)
    assert p.quantity == 400 and p.reason.endswith("capped at 10 times the 40 received")


def test_a_cap_below_the_moq_proposes_nothing() -> None:
    # 9 of 10 sold in a day: the cap is 100 pieces, under the MOQ of 150: nothing is made.
    p = propose_reorder(10, {"M": 9}, 1, 150, SETTINGS)
    assert p.quantity == 0 and "capped at 10 times the 10 received" in p.reason


def test_a_run_makes_its_customers_sizes_and_spreads_the_rest_over_the_curve() -> None:
    # A test batch of 40 serves one customer's 40 L exactly.
    assert run_sizes(40, {"L": 40}, {"S": 50, "M": 60, "L": 40}) == {"L": 40}
    # 100 pieces serving 50 S: the other 50 follow the curve 1:1.
    assert run_sizes(100, {"S": 50}, {"S": 1, "M": 1}) == {"S": 75, "M": 25}
    # Serving every line of the demand is the demand itself.
    assert run_sizes(110, {"S": 50, "M": 60}, {"S": 50, "M": 60}) == {"S": 50, "M": 60}


@given(
    st.dictionaries(st.sampled_from(["S", "M", "L"]), st.integers(0, 50)),
    st.dictionaries(st.sampled_from(["S", "M", "L"]), st.integers(1, 50), min_size=1),
    st.integers(0, 300),
)
def test_a_run_adds_up_and_never_shorts_a_served_customer(
    served: dict[str, int], curve: dict[str, int], extra: int
) -> None:
    quantity = sum(served.values()) + extra
    sizes = run_sizes(quantity, served, curve)
    assert sum(sizes.values()) == quantity
    assert all(sizes.get(size, 0) >= n for size, n in served.items())


def test_size_totals_add_up_and_keep_the_sizes_in_first_seen_order() -> None:
    totals = size_totals([("M", 3), ("S", 2), ("M", 4)])
    assert totals == {"M": 7, "S": 2} and list(totals) == ["M", "S"]
