"""Time for the rules: one place, so tests and `--as-of` can set it."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime


def now() -> datetime:
    """The current time in UTC (stored as UTC; shown in local time by the faces)."""
    return datetime.now(UTC).replace(microsecond=0)


def add_months(day: date, months: int) -> date:
    """`day` plus `months` calendar months, clamped to the last day (31 Jan + 1 = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year = day.year + month_index // 12
    month = month_index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def end_of_academic_year(day: date) -> date:
    """The academic year ends on 31 August: the next 31 August on or after `day`."""
    this_year = date(day.year, 8, 31)
    return this_year if day <= this_year else date(day.year + 1, 8, 31)
