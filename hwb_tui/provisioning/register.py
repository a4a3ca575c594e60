"""School register files → validated register entries, with `file:line:field: reason` errors.

Register layouts are data, as export profiles are: each TOML file in `registers/` maps the
fields dfes, name_en, name_cy and la to the header names that hold them. Bytes are decoded as
exports are (UTF-8 with or without BOM, UTF-16 with BOM, else Windows-1252). The rules of a
valid entry are the core's (`core.schools.entry_problems`); this module only reads.
"""

from __future__ import annotations

import csv
import io
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from hwb_tui.core.names import display_safe
from hwb_tui.core.schools import Entry, entry_problems
from hwb_tui.i18n import t
from hwb_tui.provisioning.export_files import open_export
from hwb_tui.provisioning.layouts import ProfileError, columns_table, header_key
from hwb_tui.provisioning.readers import decode

REGISTERS_DIR = Path(__file__).with_name("registers")
FIELDS = ("dfes", "name_en", "name_cy", "la")


@dataclass(frozen=True)
class RegisterLayout:
    name: str
    description: str
    required: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]

    def locate(self, header: list[str]) -> dict[str, int] | None:
        """field -> column index, or None when a required column is absent."""
        index = {header_key(h): i for i, h in reversed(list(enumerate(header)))}
        found: dict[str, int] = {}
        for fld, names in self.columns.items():
            for name in names:
                if header_key(name) in index:
                    found[fld] = index[header_key(name)]
                    break
        return found if all(f in found for f in self.required) else None


def _load(path: Path) -> RegisterLayout:
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    columns = columns_table(path, data, FIELDS)
    required = tuple(data.get("required", ["dfes", "name_en", "name_cy"]))
    if "dfes" not in required or "name_en" not in required:
        raise ProfileError(f"{path.name}: dfes and name_en are always required")
    for fld in required:
        if fld not in columns:
            raise ProfileError(f"{path.name}: required field {fld!r} has no column")
    return RegisterLayout(path.stem, str(data.get("description", path.stem)), required, columns)


@lru_cache(maxsize=1)
def layouts() -> dict[str, RegisterLayout]:
    return {p.stem: _load(p) for p in sorted(REGISTERS_DIR.glob("*.toml"))}


@dataclass
class RegisterFile:
    """A register file as read: its layout, its valid entries and its errors."""

    name: str
    layout: str | None = None
    entries: list[Entry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # file:line:field: reason
    invalid_rows: int = 0


def read_register(path: Path, name: str | None = None) -> RegisterFile:
    shown = name or str(path)
    try:
        data = open_export(path)  # a regular file, up to the size limit
    except OSError as exc:
        result = RegisterFile(shown)
        result.errors.append(t("schools.unreadable", file=shown,
                               detail=exc.strerror or str(exc)))
        return result
    return read_register_bytes(data, shown)


def read_register_bytes(data: bytes, name: str) -> RegisterFile:
    """Decode, recognise and validate a register. Never raises for anything in `data`."""
    result = RegisterFile(name)
    try:
        text = decode(data)
    except UnicodeDecodeError as exc:
        result.errors.append(t("schools.unreadable", file=name, detail=str(exc)))
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = list(reader)
    except csv.Error as exc:
        result.errors.append(f"{name}:{reader.line_num}:file: {exc}")
        return result
    # line numbers: csv's line_num counts physical lines; track the line each row starts on
    starts = _row_starts(text)
    header_at = next((i for i, r in enumerate(rows) if any(c.strip() for c in r)), None)
    if header_at is None:
        result.errors.append(t("schools.empty", file=name))
        return result
    header = [display_safe(h).strip() for h in rows[header_at]]
    best: tuple[int, RegisterLayout, dict[str, int]] | None = None
    for layout in layouts().values():
        found = layout.locate(header)
        if found is not None and (best is None or len(found) > best[0]):
            best = (len(found), layout, found)
    if best is None:
        result.errors.append(t("schools.no_layout", file=name))
        return result
    _, layout, columns = best
    result.layout = layout.name
    first_seen: dict[str, int] = {}
    for i in range(header_at + 1, len(rows)):
        row = rows[i]
        line = starts[i] if i < len(starts) else i + 1
        if not any(c.strip() for c in row):
            continue
        problems: list[tuple[str, str]] = []
        if len(row) < max(columns.values()) + 1:
            problems.append(("row", t("schools.reason_columns", found=len(row),
                                      expected=len(header))))
            result.errors.extend(f"{name}:{line}:{f}: {r}" for f, r in problems)
            result.invalid_rows += 1
            continue

        def value(fld: str, row: list[str] = row) -> str | None:
            at = columns.get(fld)
            return None if at is None else display_safe(row[at]).strip()

        dfes = value("dfes") or ""
        if len(dfes) == 8 and dfes[3] == "/":
            dfes = dfes[:3] + dfes[4:]  # lists written as LA/establishment: 661/2001
        name_en = value("name_en") or ""
        name_cy = value("name_cy")
        if name_cy == "" and "name_cy" not in layout.required:
            name_cy = None  # an optional Welsh name left blank: not given
        la = value("la") or ""
        for fld, key, params in entry_problems(dfes, name_en, name_cy, la):
            problems.append((fld, t(key, **params)))
        if dfes in first_seen:
            problems.append(("dfes", t("schools.reason_duplicate", dfes=dfes,
                                       first=first_seen[dfes])))
        else:
            first_seen[dfes] = line
        if problems:
            result.invalid_rows += 1
            for fld, reason in problems:
                column = header[columns[fld]] if fld in columns else fld
                result.errors.append(f"{name}:{line}:{column}: {reason}")
            continue
        result.entries.append(Entry(dfes, name_en, name_cy, where=f"{name}:{line}"))
    return result


def _row_starts(text: str) -> list[int]:
    """The physical line (1-based) each CSV record starts on, quoted newlines allowed for."""
    starts: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    line = 1
    try:
        for _ in reader:
            starts.append(line)
            line = reader.line_num + 1
    except csv.Error:
        pass
    return starts
