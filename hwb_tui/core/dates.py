"""Calendar dates read from text: the one parser behind the CLI's date options, every date field
of an export (CSV layouts, OneRoster, CTF) and the dates a run's undo record keeps."""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

ISO = "%Y-%m-%d"
UK = "%d/%m/%Y"  # SIMS layouts


@lru_cache(maxsize=100_000)  # exports repeat their dates (a year group's admission day)
def parse_date(text: str, fmt: str = ISO, *, padded: bool = False) -> date | None:
    """The date `text` spells in `fmt` (strptime directives), or None when it is not a real date.

    ISO and UK dates take a fast path (strptime is slow, and date.fromisoformat takes 20260311 and
    2026-W11 too): ASCII digits only, a four-digit year, a month and a day of one or two digits,
    as strptime reads them; `padded` asks for two digits each, as ISO 8601 writes them (the CLI).
    """
    try:
        if fmt == UK or fmt == ISO:
            parts = text.split(fmt[2])
            if len(parts) != 3 or not all(p.isdigit() and p.isascii() for p in parts):
                return None
            if fmt == UK:
                d, m, y = parts
            else:
                y, m, d = parts
            widths = (2,) if padded else (1, 2)
            if len(y) != 4 or len(m) not in widths or len(d) not in widths:
                return None
            return date(int(y), int(m), int(d))
        return datetime.strptime(text, fmt).date()
    except ValueError:
        return None
