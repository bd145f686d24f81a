from __future__ import annotations

from datetime import date

import pytest

from api.intake import IntakeError, StyleInfo, parse_csv, validate_lines

TODAY = date(2026, 11, 22)
STYLES = {"TS-CREW": StyleInfo(size_run=("S", "M", "L"), colours=("white", "black"))}
HEADER = "customer_ref,style,colour,size,quantity,personalisation,need_by,channel,region\n"


def row(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "customer_ref": "C-1",
        "style": "TS-CREW",
        "colour": "white",
        "size": "M",
        "quantity": 3,
        "personalisation": None,
        "need_by": "2026-12-20",
        "channel": "web",
        "region": "EU",
    }
    return {**base, **overrides}


def test_a_clean_csv_parses_with_spreadsheet_line_numbers() -> None:
    body = (
        HEADER + "C-1,TS-CREW,white,M,3,,2026-12-20,web,EU\n\n"
        "C-2,TS-CREW,black,L,1,AB,2026-12-21,app,US\n"
    ).encode()
    rows = parse_csv(body)
    assert [line for line, _ in rows] == [2, 4]  # the blank line 3 is skipped, not renumbered
    valid, errors = validate_lines(rows, STYLES, TODAY)
    assert errors == [] and [v.line_no for v in valid] == [2, 4]
    assert valid[1].personalisation == "AB" and valid[0].personalisation is None


def test_a_utf8_bom_from_a_spreadsheet_export_is_accepted() -> None:
    rows = parse_csv(("\ufeff" + HEADER + "C-1,TS-CREW,white,M,3,,2026-12-20,web,EU\n").encode())
    assert rows[0][1]["customer_ref"] == "C-1"


@pytest.mark.parametrize(
    ("body", "field", "needle"),
    [
        (b"", "body", "empty"),
        (b"   \n", "body", "empty"),
        (HEADER.encode(), "body", "no lines"),
        (HEADER.replace(",", ";").encode() + b"a;b\n", "header", "delimiter"),
        (b"customer_ref,style\nC-1,TS-CREW\n", "header", "missing columns"),
        (HEADER.replace("region", "region,shoe_size").encode(), "header", "unknown columns"),
        (HEADER.encode() + b"C-1,TS-CREW,wh\xe9te,M,3,,2026-12-20,web,EU\n", "line 2", "UTF-8"),
    ],
)
def test_unusable_csv_bodies_say_where(body: bytes, field: str, needle: str) -> None:
    with pytest.raises(IntakeError) as caught:
        parse_csv(body)
    assert caught.value.field == field
    assert needle in caught.value.message


def test_a_ragged_row_is_reported_with_its_line_not_dropped() -> None:
    rows = parse_csv(
        (HEADER + "C-1,TS-CREW,white\nC-2,TS-CREW,white,M,3,,2026-12-20,web,EU\n").encode()
    )
    valid, errors = validate_lines(rows, STYLES, TODAY)
    assert [(e.line, e.field) for e in errors] == [(2, "row")]
    assert [v.line_no for v in valid] == [3]


@pytest.mark.parametrize(
    ("overrides", "field", "needle"),
    [
        ({"style": "NOPE"}, "style", "unknown style"),
        ({"size": "XXXL"}, "size", "size run"),
        ({"colour": "purple"}, "colour", "not offered"),
        ({"quantity": 0}, "quantity", "positive"),
        ({"quantity": -2}, "quantity", "positive"),
        ({"quantity": "two"}, "quantity", "whole number"),
        ({"quantity": 2.5}, "quantity", "whole number"),
        ({"quantity": True}, "quantity", "whole number"),
        ({"quantity": 1_000_000}, "quantity", "cap"),
        ({"need_by": "2026-11-01"}, "need_by", "past"),
        ({"need_by": "next week"}, "need_by", "not a date"),
        ({"channel": ""}, "channel", "required"),
        ({"customer_ref": None}, "customer_ref", "required"),
    ],
)
def test_each_bad_field_is_named_with_its_line(
    overrides: dict[str, object], field: str, needle: str
) -> None:
    valid, errors = validate_lines(
        [(1, row()), (2, row(**{"customer_ref": "C-2", **overrides}))], STYLES, TODAY
    )
    assert [v.line_no for v in valid] == [1]
    assert len(errors) >= 1
    assert errors[0].line == 2 and errors[0].field == field and needle in errors[0].reason


def test_a_duplicate_line_points_at_the_first() -> None:
    valid, errors = validate_lines([(1, row()), (2, row())], STYLES, TODAY)
    assert len(valid) == 1
    assert errors[0].line == 2 and errors[0].reason == "duplicate of line 1"


def test_every_problem_of_a_line_is_reported_at_once() -> None:
    _, errors = validate_lines([(7, row(size="XXXL", quantity=0, need_by="x"))], STYLES, TODAY)
    assert {e.field for e in errors} == {"size", "quantity", "need_by"}
    assert {e.line for e in errors} == {7}
