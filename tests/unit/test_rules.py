from __future__ import annotations

import pytest

from models.rules import fabric_requirement, hash_token, split_proportionally


def test_split_keeps_the_demand_size_curve_and_adds_up_exactly() -> None:
    split = split_proportionally(10, {"S": 1, "M": 2, "L": 1})
    assert split == {"S": 3, "M": 5, "L": 2} or split == {"S": 2, "M": 5, "L": 3}
    assert sum(split.values()) == 10


def test_split_of_the_full_demand_is_the_demand_itself() -> None:
    demand = {"XS": 3, "S": 17, "M": 40, "L": 22, "XL": 9}
    assert split_proportionally(sum(demand.values()), demand) == demand


def test_split_hands_remainders_to_the_largest_fractions() -> None:
    # 7 over weights 1:1:1 -> exact 2.33 each; one extra piece goes to the first size.
    assert split_proportionally(7, {"S": 1, "M": 1, "L": 1}) == {"S": 3, "M": 2, "L": 2}


@pytest.mark.parametrize("weights", [{}, {"S": 0}])
def test_split_refuses_weights_without_demand(weights: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        split_proportionally(5, weights)


def test_fabric_requirement_adds_wastage_to_consumption_per_size() -> None:
    # 10 x 1.0 m + 20 x 1.5 m = 40 m, plus 10% wastage.
    assert fabric_requirement({"S": 10, "M": 20}, {"S": 1.0, "M": 1.5}, 10.0) == 44.0


def test_fabric_requirement_names_sizes_without_consumption() -> None:
    with pytest.raises(ValueError, match="XL"):
        fabric_requirement({"XL": 1}, {"S": 1.0}, 7.0)


def test_tokens_are_hashed_deterministically_and_not_stored_plain() -> None:
    assert hash_token("abc") == hash_token("abc")
    assert hash_token("abc") != hash_token("abd")
    assert "abc" not in hash_token("abc")
