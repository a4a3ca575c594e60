"""The one date parser (core.dates): the CLI's strict YYYY-MM-DD and the exports' layouts."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwb_tui.core.dates import ISO, UK, parse_date

_ISO_8601_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _strict(text: str) -> date | None:
    """What a date option took before there was one parser: the pattern, then fromisoformat."""
    if not _ISO_8601_DAY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@given(st.dates(min_value=date(1000, 1, 1)))
def test_every_date_reads_back_in_both_layouts(day: date) -> None:
    assert parse_date(day.isoformat(), padded=True) == day
    assert parse_date(day.strftime("%d/%m/%Y"), UK) == day
    assert parse_date(f"{day.year}-{day.month}-{day.day}", ISO) == day  # as strptime reads it


@given(st.text(alphabet="0123456789-/ W+T\n٣２", max_size=12))
def test_padded_is_exactly_iso_8601_calendar_dates(text: str) -> None:
    assert parse_date(text, padded=True) == _strict(text)


@pytest.mark.parametrize("text", ["2026-3-1", "2026-03-11", "2026-02-29", "26-03-11",
                                  "2026-03-11T00:00", "11/03/2026"])
def test_the_fast_path_reads_as_strptime_does(text: str) -> None:
    try:
        expected: date | None = datetime.strptime(text, ISO).date()
    except ValueError:
        expected = None
    assert parse_date(text, ISO) == expected


def test_other_layouts_go_to_strptime() -> None:
    assert parse_date("11.03.2026", "%d.%m.%Y") == date(2026, 3, 11)
    assert parse_date("31.02.2026", "%d.%m.%Y") is None
