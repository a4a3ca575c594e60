"""A list of usernames from a CSV file (bulk changes): decoded as exports are, one row a user.

The file has a `username` column (any case, anywhere); other columns are ignored, so a listing
written by `users list --csv`, or a spreadsheet of a placement cohort, can be given as it is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

from hwb_tui.core.bulk import Target
from hwb_tui.core.errors import BadFile, Phrase
from hwb_tui.core.names import display_safe
from hwb_tui.provisioning.export_files import open_export
from hwb_tui.provisioning.readers import decode

COLUMN = "username"
MAX_BYTES = 10 * 1024 * 1024  # a list of usernames this large is a mistake, not a cohort


def read_usernames(path: Path) -> list[Target]:
    """The targets a file names, with their line numbers (the header is line 1)."""
    shown = display_safe(str(path))
    try:
        # a regular file, opened without blocking, no larger than MAX_BYTES
        data = open_export(path, limit=MAX_BYTES)
    except OSError as exc:
        raise BadFile(where=shown, reason=display_safe(exc.strerror or str(exc))) from None
    return parse_usernames(data, shown)


def parse_usernames(data: bytes, name: str) -> list[Target]:
    try:
        text = decode(data)
    except UnicodeDecodeError:
        raise BadFile(where=name, reason=Phrase("bulk.file.not_text")) from None
    return list(_rows(text, name))


def _rows(text: str, name: str) -> Iterator[Target]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise BadFile(where=f"{name}:1", reason=Phrase("bulk.file.empty"))
        wanted = [i for i, h in enumerate(header) if h.strip().casefold() == COLUMN]
        if not wanted:
            found = ", ".join(display_safe(h.strip())[:40] for h in header if h.strip())
            raise BadFile(where=f"{name}:1",
                          reason=Phrase("bulk.file.no_column", column=COLUMN, found=found or "-"))
        column = wanted[0]
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue  # a blank line, as spreadsheets leave at the end
            value = row[column] if column < len(row) else ""
            yield Target(username=value.strip(), line=reader.line_num)
    except csv.Error as exc:
        raise BadFile(where=f"{name}:{reader.line_num}", reason=display_safe(str(exc))) from None
