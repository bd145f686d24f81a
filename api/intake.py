"""Demand-batch intake: parse JSON or CSV into numbered rows and validate every line
against master data. Nothing is dropped silently: each bad line comes back with its line
number, field and reason."""

from __future__ import annotations

import csv
import io
import re
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
# No database stores a NUL in text (PostgreSQL refuses it); none of these belongs in a line.
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")
MAX_LINES = 100_000


class LineError(BaseModel):
    line: int = Field(description="1-based: the CSV line (header is line 1) or JSON index + 1")
    field: str
    reason: str


@dataclass(slots=True)
class ValidLine:
    """A line that passed every check (a plain dataclass: 100,000 of them must be cheap)."""

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

    def row(self, batch_id: int) -> dict[str, Any]:
        """The ``demand_line`` row of this line in batch ``batch_id``."""
        return {
            "batch_id": batch_id,
            "line_no": self.line_no,
            "customer_ref": self.customer_ref,
            "style_code": self.style_code,
            "colour": self.colour,
            "size": self.size,
            "quantity": self.quantity,
            "personalisation": self.personalisation,
            "need_by": self.need_by,
            "channel": self.channel,
            "region": self.region,
        }


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


class TextRow(dict[str, str]):
    """A row whose every column is present as a stripped string ("" when empty)."""


def text_row(raw: dict[str, Any]) -> TextRow:
    """A JSON line (or any mapping) as text. ``True`` or ``2.5`` as a quantity becomes a
    string that is not a whole number, and is rejected as one."""
    return TextRow((k, "" if (v := raw.get(k)) is None else str(v).strip()) for k in COLUMNS)


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
        return _read_rows(reader)
    except csv.Error as err:  # a NUL byte, a field over 128 KB, a broken quote
        line = reader.line_num
        raise IntakeError(f"line {line}: unreadable CSV ({err})", field=f"line {line}") from err


def _read_rows(reader: Any) -> list[tuple[int, dict[str, Any]]]:
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
    absent = dict.fromkeys((c for c in COLUMNS if c not in header), "")
    rows: list[tuple[int, dict[str, Any]]] = []
    for values in reader:
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue
        if len(values) != len(header):
            rows.append((line, {"__ragged__": f"{len(values)} fields, header has {len(header)}"}))
            continue
        row = TextRow(zip(header, map(str.strip, values), strict=True))
        if absent:
            row.update(absent)
        rows.append((line, row))
        if len(rows) > MAX_LINES:
            raise IntakeError(f"more than {MAX_LINES} lines; split the batch")
    if not rows:
        raise IntakeError("the CSV has a header but no lines")
    return rows


def validate_lines(
    rows: list[tuple[int, dict[str, Any]]], styles: dict[str, StyleInfo], today: date
) -> tuple[list[ValidLine], list[LineError]]:
    """Check every field of every row; return the good lines and one error per bad field.

    Written for 100,000-line batches (bench/intake.py): no per-line closures or models,
    and each distinct date string is parsed once."""
    valid: list[ValidLine] = []
    errors: list[LineError] = []
    seen: dict[tuple[str, ...], int] = {}
    dates: dict[str, date | str] = {}  # a parsed date, or why the string is not one
    for line, row in rows:
        if "__ragged__" in row:
            errors.append(LineError(line=line, field="row", reason=row["__ragged__"]))
            continue
        problems: list[tuple[str, str]] = []
        text = row if isinstance(row, TextRow) else text_row(row)
        if CONTROL_CHARACTER.search("".join(text.values())):
            problems.extend(
                (k, "contains a control character (NUL, tab, escape, ...)")
                for k, v in text.items()
                if CONTROL_CHARACTER.search(v)
            )
        if not all(map(text.__getitem__, REQUIRED)):
            problems.extend((c, "is required") for c in REQUIRED if not text[c])
        style = styles.get(text["style"])
        if style is None:
            if text["style"]:
                problems.append(("style", f"unknown style {text['style']!r}"))
        else:
            if text["size"] and text["size"] not in style.size_run:
                problems.append(
                    ("size", f"{text['size']!r} is not in the size run {list(style.size_run)}")
                )
            if text["colour"] and text["colour"] not in style.colours:
                problems.append(
                    ("colour", f"{text['colour']!r} is not offered; one of {list(style.colours)}")
                )
        quantity = _quantity(text["quantity"], problems)
        need_by = _need_by(text["need_by"], today, dates, problems)
        if not problems:
            key = (
                text["customer_ref"],
                text["style"],
                text["colour"],
                text["size"],
                text["personalisation"],
                text["need_by"],
            )
            first = seen.setdefault(key, line)
            if first != line:
                problems.append(("line", f"duplicate of line {first}"))
        if problems or need_by is None:
            errors.extend(LineError(line=line, field=f, reason=r) for f, r in problems)
            continue
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


def _quantity(text: str, problems: list[tuple[str, str]]) -> int:
    """A positive whole number up to the cap; 0 (and a problem) otherwise."""
    if not text:
        return 0
    try:
        quantity = int(text)
    except ValueError:
        problems.append(("quantity", f"{text!r} is not a whole number"))
        return 0
    if quantity < 1:
        problems.append(("quantity", "must be a positive whole number"))
    elif quantity > MAX_QUANTITY:
        problems.append(("quantity", f"{quantity} is above the cap of {MAX_QUANTITY} per line"))
    return quantity


def _need_by(
    text: str, today: date, cache: dict[str, date | str], problems: list[tuple[str, str]]
) -> date | None:
    """The date, or None with a problem recorded (unparseable or in the past)."""
    if not text:
        return None
    verdict = cache.get(text)
    if verdict is None:
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            verdict = f"{text!r} is not a date (YYYY-MM-DD)"
        else:
            verdict = f"{parsed} is in the past" if parsed < today else parsed
        cache[text] = verdict
    if isinstance(verdict, str):
        problems.append(("need_by", verdict))
        return None
    return verdict
