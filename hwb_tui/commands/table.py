"""Plain output of the headless commands: aligned tables, streamed JSON and CSV of untrusted data.

Names are data: every cell is made display-safe and printed as rich Text (never parsed as
markup), and CSV cells are neutralised so a spreadsheet never runs them as formulas.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TextIO

from rich.cells import set_cell_size
from rich.console import Console
from rich.text import Text

from hwb_tui.core.names import csv_safe, display_safe, display_safe_data
from hwb_tui.core.records import jsonable, stored_json, utc

GAP = "  "


def local_time(stamp: datetime | None) -> str:
    """A timestamp for people: local time, to the minute."""
    aware = utc(stamp)
    return aware.astimezone().strftime("%Y-%m-%d %H:%M") if aware else ""


detail = stored_json  # an audit event's detail as data (the serialiser is core.records)


def console(file: TextIO | None = None) -> Console:
    """A console that never interprets markup or emoji codes and never wraps a row."""
    return Console(
        file=file or sys.stdout, markup=False, highlight=False, emoji=False, soft_wrap=True
    )


class Table:
    """Fixed-width columns, so rows can be printed as they stream in (no need to see them all)."""

    def __init__(self, columns: Sequence[tuple[str, int]]) -> None:
        self.columns = list(columns)

    def line(self, cells: Sequence[Any], style: str = "") -> Text:
        parts: list[str] = []
        last = len(self.columns) - 1
        for i, ((_, width), value) in enumerate(zip(self.columns, cells, strict=True)):
            cell = display_safe("" if value is None else str(value))
            parts.append(cell if i == last else set_cell_size(cell, width))
        return Text(GAP.join(parts).rstrip(), style=style)

    def header(self) -> Text:
        return self.line([title for title, _ in self.columns], style="bold")

    def print(self, out: Console, rows: Iterable[Sequence[Any]]) -> None:
        """Print one batch of rows as one Text (one write per batch, not per row)."""
        lines = [self.line(row) for row in rows]
        if lines:
            out.print(Text("\n").join(lines))


class JsonArrayWriter:
    """A JSON array written one element at a time: valid JSON however many rows there are."""

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file or sys.stdout
        self.count = 0
        self.file.write("[")

    def write(self, item: dict[str, Any]) -> None:
        self.file.write(",\n  " if self.count else "\n  ")
        # strings from the data are display-safe in JSON too: no bidi override or zero-width
        # character reaches whoever reads the output
        self.file.write(json.dumps(display_safe_data(item), ensure_ascii=False,
                                   default=jsonable))
        self.count += 1

    def close(self) -> None:
        self.file.write("\n]\n" if self.count else "]\n")


class CsvWriter:
    """CSV whose every cell a spreadsheet shows as text: formula-like values are neutralised."""

    def __init__(self, header: Sequence[str], file: TextIO | None = None) -> None:
        self.writer = csv.writer(file or sys.stdout, lineterminator="\n")
        self.writer.writerow(header)

    def write(self, cells: Iterable[Any]) -> None:
        self.writer.writerow([csv_safe(display_safe(_csv_text(v))) for v in cells])


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return str(jsonable(value))
    return str(value)
