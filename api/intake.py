"""Demand-batch intake: parse JSON or CSV into numbered rows and validate every line
against master data. Nothing is dropped silently: each bad line comes back with its line
number, field and reason."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

COLUMNS = (
    "customer_ref",
    "style",
    "colour",
    "size",
    "quantity",
    "personalisation",
    "need_by",
    "channel",
    "region",
)
REQUIRED = tuple(c for c in COLUMNS if c != "personalisation")
MAX_QUANTITY = 10_000
MAX_LINES = 50_000


class LineError(BaseModel):
    line: int = Field(description="1-based: the CSV line (header is line 1) or JSON index + 1")
    field: str
    reason: str


class ValidLine(BaseModel):
    line_no: int
    customer_ref: str
    style_code: str
    colour: str
    size: str
    quantity: int
    personalisation: str | None
    need_by: date
    channel: str
    region: str


class DemandLineIn(BaseModel):
    """One line of a JSON batch. Values are checked by ``validate_lines``, not here, so that
    every problem of every line is reported at once."""

    model_config = ConfigDict(extra="allow")

    customer_ref: Any = None
    style: Any = None
    colour: Any = None
    size: Any = None
    quantity: Any = None
    personalisation: Any = None
    need_by: Any = None
    channel: Any = None
    region: Any = None


class IntakeError(Exception):
    """The whole body is unusable (not one line can be read); ``field`` names where."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.message, self.field = message, field


@dataclass(frozen=True)
class StyleInfo:
    size_run: tuple[str, ...]
    colours: tuple[str, ...]


def parse_csv(raw: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a CSV body as (line number, {column: value})."""
    if not raw.strip():
        raise IntakeError("the CSV body is empty")
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 BOM from a spreadsheet export is fine
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise IntakeError(
            f"line {line}: not UTF-8 (byte 0x{raw[err.start]:02x} at offset {err.start}); "
            "export the sheet as CSV UTF-8",
            field=f"line {line}",
        ) from err
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration as err:
        raise IntakeError("the CSV body is empty") from err
    if len(header) == 1 and any(d in header[0] for d in (";", "\t", "|")):
        raise IntakeError(
            "the header has one column; the delimiter must be a comma", field="header"
        )
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if unknown:
            parts.append(f"unknown columns {unknown}")
        raise IntakeError(f"header: {'; '.join(parts)}; expected {list(COLUMNS)}", "header")
    rows: list[tuple[int, dict[str, Any]]] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            rows.append((line, {"__ragged__": f"{len(values)} fields, header has {len(header)}"}))
            continue
        rows.append((line, dict(zip(header, values, strict=True))))
        if len(rows) > MAX_LINES:
            raise IntakeError(f"more than {MAX_LINES} lines; split the batch")
    if not rows:
        raise IntakeError("the CSV has a header but no lines")
    return rows


def validate_lines(
    rows: list[tuple[int, dict[str, Any]]], styles: dict[str, StyleInfo], today: date
) -> tuple[list[ValidLine], list[LineError]]:
    """Check every field of every row; return the good lines and one error per bad field."""
    valid: list[ValidLine] = []
    errors: list[LineError] = []
    seen: dict[tuple[Any, ...], int] = {}
    for line, row in rows:
        if "__ragged__" in row:
            errors.append(LineError(line=line, field="row", reason=row["__ragged__"]))
            continue
        line_errors: list[LineError] = []

        def bad(
            field: str, reason: str, line: int = line, errs: list[LineError] = line_errors
        ) -> None:
            errs.append(LineError(line=line, field=field, reason=reason))

        text = {k: ("" if row.get(k) is None else str(row.get(k)).strip()) for k in COLUMNS}
        for column in REQUIRED:
            if not text[column]:
                bad(column, "is required")
        style = styles.get(text["style"])
        if text["style"] and style is None:
            bad("style", f"unknown style {text['style']!r}")
        if style is not None:
            if text["size"] and text["size"] not in style.size_run:
                bad("size", f"{text['size']!r} is not in the size run {list(style.size_run)}")
            if text["colour"] and text["colour"] not in style.colours:
                bad("colour", f"{text['colour']!r} is not offered; one of {list(style.colours)}")
        quantity = 0
        if text["quantity"]:
            raw_q = row.get("quantity")
            try:
                if isinstance(raw_q, bool) or (isinstance(raw_q, float) and not raw_q.is_integer()):
                    raise ValueError
                quantity = int(raw_q) if isinstance(raw_q, int | float) else int(text["quantity"])
            except ValueError:
                bad("quantity", f"{text['quantity']!r} is not a whole number")
            else:
                if quantity < 1:
                    bad("quantity", "must be a positive whole number")
                elif quantity > MAX_QUANTITY:
                    bad("quantity", f"{quantity} is above the cap of {MAX_QUANTITY} per line")
        need_by: date | None = None
        if text["need_by"]:
            try:
                need_by = date.fromisoformat(text["need_by"])
            except ValueError:
                bad("need_by", f"{text['need_by']!r} is not a date (YYYY-MM-DD)")
            else:
                if need_by < today:
                    bad("need_by", f"{need_by} is in the past")
        if not line_errors:
            key = (
                text["customer_ref"],
                text["style"],
                text["colour"],
                text["size"],
                text["personalisation"],
                text["need_by"],
            )
            if key in seen:
                bad("line", f"duplicate of line {seen[key]}")
            else:
                seen[key] = line
        if line_errors:
            errors.extend(line_errors)
            continue
        assert need_by is not None
        valid.append(
            ValidLine(
                line_no=line,
                customer_ref=text["customer_ref"],
                style_code=text["style"],
                colour=text["colour"],
                size=text["size"],
                quantity=quantity,
                personalisation=text["personalisation"] or None,
                need_by=need_by,
                channel=text["channel"],
                region=text["region"],
            )
        )
    return valid, errors
