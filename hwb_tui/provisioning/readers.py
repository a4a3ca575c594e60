"""MIS export files → decoded text → validated roster records, with `file:line:field` errors.

Bytes are decoded as UTF-8 (with or without BOM) or UTF-16 (with BOM), else Windows-1252, so
Welsh letters survive whichever way the MIS wrote them. Every invalid row is reported with the
file, its line (the header is line 1), the column and a translatable reason; valid rows become
`Record`s. Values are data: one starting with = + - @ is kept as written, control characters are
removed (the core's display-safe rule), and nothing in a file can crash the reader.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hwb_tui.core.dates import parse_date
from hwb_tui.core.names import (
    MAX_TEXT,
    UPN_LETTERS,
    WELSH_LA_NUMBERS,
    display_safe,
    mark_hidden,
    upn_problem,
)
from hwb_tui.i18n import t
from hwb_tui.provisioning.export_files import open_export
from hwb_tui.provisioning.layouts import Profile, detect, header_key, profile_names, profiles

# csv refuses fields over 128 KiB by default; a hostile file then stops with an error we report.
_YEAR = re.compile(r"^(?:year|yr|y|blwyddyn|bl)?\s*(\d{1,2})$", re.IGNORECASE)
_EXAMPLE = {"%d/%m/%Y": "dd/mm/yyyy", "%Y-%m-%d": "yyyy-mm-dd"}
_TOO_LONG = {"max": MAX_TEXT}


@dataclass(frozen=True)
class RowError:
    """One problem in an export: where (file, line, column) and why (a catalogue key)."""

    file: str
    line: int
    column: str  # the header name as written in the file
    reason: str  # message key under provisioning.reason.
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, lang: str | None = None) -> str:
        reason = t(f"provisioning.reason.{self.reason}", lang, **self.params)
        return f"{self.file}:{self.line}:{self.column}: {reason}"


@dataclass(slots=True)
class Record:
    """One valid row of an export: a learner (identity = UPN) or a staff member (staff code)."""

    kind: str
    identity: str
    surname: str
    forename: str
    file: str
    line: int
    admission_number: str | None = None
    admission_date: date | None = None
    leaving_date: date | None = None
    year_group: int | None = None
    reg_group: str | None = None
    role: str | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class ExportFile:
    """One file as read: its digest, its layout, its valid records and its errors."""

    name: str
    sha256: str = ""
    size: int = 0
    profile: str | None = None
    kind: str | None = None
    identity_column: str = ""  # the identity's header name as written in this file
    rows: int = 0
    records: list[Record] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    fatal: bool = False  # unreadable, empty or of no known layout: nothing in it can be used


def decode(data: bytes) -> str:
    """Text of an export: BOM-marked UTF-8/UTF-16, else UTF-8, else Windows-1252.

    Raises UnicodeDecodeError only for a BOM-marked file that is not what its BOM says.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # Windows-1252 leaves five bytes undefined; they become U+FFFD rather than a refusal.
        return data.decode("cp1252", errors="replace")


def parse_year(text: str) -> int | None:
    """A year group: '11', 'Year 11', 'Y11' → 11; reception, nursery and blanks → None."""
    if len(text) <= 2 and text.isascii() and text.isdigit():
        return int(text)
    match = _YEAR.match(text.strip())
    return int(match.group(1)) if match else None


def _clean(text: str) -> str:
    # isprintable() is False for every character display_safe removes: most values skip it
    return (text if text.isprintable() else display_safe(text)).strip()


def _weighted(position: int, keys: list[str]) -> dict[str, int]:
    """Each 3-digit chunk at `position` of a UPN's 12 digits → its share of the weighted sum."""
    return {k: sum((position + i + 2) * int(d) for i, d in enumerate(k)) for k in keys}


_CHUNKS = [f"{i:03d}" for i in range(1000)]
# The mod-23 check as four dictionary lookups: a chunk that is not three ASCII digits (or an LA
# number outside 660–681) is no key, so the lookups validate as they add up.
_UPN_LA = _weighted(0, [str(la) for la in WELSH_LA_NUMBERS])
_UPN_REST = (_weighted(3, _CHUNKS), _weighted(6, _CHUNKS), _weighted(9, _CHUNKS))


def _upn_problem(upn: str) -> str | None:
    """core.names.upn_problem, with a fast path for the valid UPNs that fill an export."""
    est, year, serial = _UPN_REST
    try:
        total = _UPN_LA[upn[1:4]] + est[upn[4:7]] + year[upn[7:10]] + serial[upn[10:13]]
    except KeyError:
        return upn_problem(upn)
    if len(upn) == 13 and upn[0] == UPN_LETTERS[total % 23]:
        return None
    return upn_problem(upn)


def _shown(text: str, limit: int = 40) -> str:
    # hidden characters are marked, not dropped: a value said to be wrong must look wrong
    text = mark_hidden(text.strip())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def identity(raw: str, learner: bool, file: str, line: int, column: str
             ) -> tuple[str, RowError | None]:
    """A record's identity as the store keeps it, and its error (None: a good one): a learner's
    UPN upper-cased and checked, anyone else's staff code cleaned, at most MAX_TEXT long."""
    if learner:
        ident = raw.strip().upper()
        problem = _upn_problem(ident) if ident else "missing"
        return ident, None if problem is None else RowError(file, line, column, problem)
    ident = _clean(raw)
    return ident, name_error(ident, file, line, column)


def name_error(value: str, file: str, line: int, column: str) -> RowError | None:
    """The error of a cleaned, required text cell (a name): missing, or longer than MAX_TEXT."""
    if not value:
        return RowError(file, line, column, "missing")
    if len(value) > MAX_TEXT:
        return RowError(file, line, column, "too_long", _TOO_LONG)
    return None


YEARS = range(1, 14)  # National Curriculum years; Reception is year 0


def year_of_code(code: str, reception: str, no_year: frozenset[str]
                 ) -> tuple[bool, int | None]:
    """(known, year group) of a year code as a format writes it: its `reception` code → 0,
    1…13 (one or two ASCII digits) → that year, a code of `no_year` (nursery, none) → no year."""
    code = code.strip().upper()
    if code == reception:
        return True, 0
    if code in no_year:
        return True, None
    if 1 <= len(code) <= 2 and code.isascii() and code.isdigit() and int(code) in YEARS:
        return True, int(code)
    return False, None


def read_export(path: Path, fmt: str = "auto", name: str | None = None) -> ExportFile:
    """Read one export file from disk; see `read_bytes`."""
    shown = name or str(path)
    try:
        data = open_export(path)  # the inbox, a regular file, the size limit
    except OSError as exc:
        result = ExportFile(name=shown, fatal=True)
        result.errors.append(RowError(shown, 0, "file", "unreadable",
                                      {"detail": exc.strerror or str(exc)}))
        return result
    return read_bytes(data, shown, fmt)


def read_bytes(data: bytes, name: str, fmt: str = "auto") -> ExportFile:
    """Decode, recognise and validate one export. Never raises for anything in `data`."""
    result = ExportFile(name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    try:
        text = decode(data)
    except UnicodeDecodeError as exc:
        result.fatal = True
        result.errors.append(RowError(name, 0, "file", "undecodable",
                                      {"encoding": exc.encoding}))
        return result
    reader = csv.reader(io.StringIO(text, newline=""))
    # A header cell may hold a quoted newline: its problems are reported at the line it
    # starts on, as a row's are.
    header_line = 1
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header_line = reader.line_num + 1
            header = next(reader, None)
    except csv.Error as exc:
        result.fatal = True
        result.errors.append(RowError(name, reader.line_num, "file", "bad_csv",
                                      {"detail": str(exc)}))
        return result
    if header is None:
        result.fatal = True
        result.errors.append(RowError(name, 1, "header", "empty_file"))
        return result
    header = [display_safe(h).strip() for h in header]
    located = _locate(header, fmt, name, header_line, result)
    if located is None:
        result.fatal = True
        return result
    profile, columns = located
    twice = _duplicated(header, columns)
    if twice is not None:
        # two columns named alike: using either could take the wrong one's values
        result.fatal = True
        result.errors.append(RowError(name, header_line, twice, "duplicate_column"))
        return result
    result.profile = profile.name
    result.kind = profile.kind
    result.identity_column = header[columns[profile.identity]]
    _read_rows(reader, profile, columns, header, name, result)
    return result


def _duplicated(header: list[str], columns: dict[str, int]) -> str | None:
    """The header name, as written, of a used column that appears again in the header."""
    used = {header_key(header[i]) for i in columns.values()}
    seen: set[str] = set()
    for name in header:
        key = header_key(name)
        if key in used and key in seen:
            return name
        seen.add(key)
    return None


def _locate(
    header: list[str], fmt: str, name: str, line: int, result: ExportFile
) -> tuple[Profile, dict[str, int]] | None:
    if fmt == "auto":
        found = detect(header)
        if found is None:
            result.errors.append(RowError(name, line, "header", "unknown_format",
                                          {"formats": ", ".join(profile_names())}))
        return found
    profile = profiles().get(fmt)
    if profile is None:
        result.errors.append(RowError(name, line, "header", "no_such_format",
                                      {"format": fmt, "formats": ", ".join(profile_names())}))
        return None
    columns = profile.locate(header)
    if columns is None:
        for column in profile.missing(header):
            result.errors.append(RowError(name, line, column, "missing_column",
                                          {"format": profile.name}))
        return None
    return profile, columns


def _read_rows(
    reader: Any,
    profile: Profile,
    columns: dict[str, int],
    header: list[str],
    name: str,
    result: ExportFile,
) -> None:
    """Validate each row. Written for speed: a national re-sync reads 600,000 rows."""
    kind = profile.kind
    fmt = profile.date_format
    example = _EXAMPLE.get(fmt, fmt)
    required = set(profile.required)
    ident_field = profile.identity
    ident_at = columns[ident_field]
    sur_at = columns["surname"]
    fore_at = columns["forename"]
    optional_text = [(f, columns[f]) for f in ("admission_number", "reg_group", "role")
                     if f in columns]
    dates = [(f, columns[f]) for f in ("admission_date", "start_date", "leaving_date")
             if f in columns]
    year_at = columns.get("year_group")
    width = max(columns.values()) + 1
    records = result.records
    errors = result.errors
    is_learner = ident_field == "upn"
    prev_end = reader.line_num
    rows = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(name, prev_end + 1, "file", "bad_csv", {"detail": str(exc)}))
            result.fatal = True
            break
        line = prev_end + 1
        prev_end = reader.line_num
        if len(row) < width:
            row = row + [""] * (width - len(row))
        raw_ident = row[ident_at]
        if not raw_ident and not any(cell.strip() for cell in row):
            continue  # a blank line (or a line of empty cells) is no row
        rows += 1
        bad = False
        ident, error = identity(raw_ident, is_learner, name, line, header[ident_at])
        if error is not None:
            errors.append(error)
            bad = True
        surname = _clean(row[sur_at])
        error = name_error(surname, name, line, header[sur_at])
        if error is not None:
            errors.append(error)
            bad = True
        forename = _clean(row[fore_at])
        error = name_error(forename, name, line, header[fore_at])
        if error is not None:
            errors.append(error)
            bad = True
        record = Record(kind, ident, surname, forename, name, line)
        for fname, at in optional_text:
            value = _clean(row[at])
            if len(value) > MAX_TEXT:
                errors.append(RowError(name, line, header[at], "too_long", _TOO_LONG))
                bad = True
            elif value:
                setattr(record, fname, value)
            elif fname in required:
                errors.append(RowError(name, line, header[at], "missing"))
                bad = True
        for dname, at in dates:
            raw = row[at].strip()
            if not raw:
                if dname in required:
                    errors.append(RowError(name, line, header[at], "missing"))
                    bad = True
                continue
            day = parse_date(raw, fmt)
            if day is None:
                errors.append(RowError(name, line, header[at], "bad_date",
                                       {"value": _shown(raw), "format": example}))
                bad = True
            elif dname == "start_date":
                record.admission_date = day  # staff: when employment started
            else:
                setattr(record, dname, day)
        if year_at is not None:
            record.year_group = parse_year(row[year_at])
        if not bad:
            records.append(record)
    result.rows = rows


@dataclass
class Roster:
    """A school's export files combined: one record per learner (UPN) and per staff code."""

    files: list[ExportFile]
    learners: dict[str, Record] = field(default_factory=dict)
    staff: dict[str, Record] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    @property
    def kinds(self) -> set[str]:
        """The kinds these files cover: only those can be "not in export"."""
        return {f.kind for f in self.files if f.kind is not None}

    @property
    def fatal(self) -> bool:
        return any(f.fatal for f in self.files)

    @property
    def rows(self) -> int:
        return sum(f.rows for f in self.files)


def combine(files: list[ExportFile]) -> Roster:
    """One roster from a school's files; a UPN or staff code listed twice is an error where it
    appears again (in the same file or another of the school's files), the first is kept."""
    roster = Roster(files=files)
    for export in files:
        roster.errors.extend(export.errors)
        for record in export.records:
            seen = roster.learners if record.kind == "learner" else roster.staff
            first = seen.get(record.identity)
            if first is None:
                seen[record.identity] = record
                continue
            column = export.identity_column
            reason = "duplicate_upn" if record.kind == "learner" else "duplicate_staff_code"
            roster.errors.append(RowError(export.name, record.line, column, reason,
                                          {"where": first.where}))
    roster.errors.sort(key=lambda e: (_file_order(files, e.file), e.line))
    return roster


def _file_order(files: list[ExportFile], name: str) -> int:
    for i, f in enumerate(files):
        if f.name == name:
            return i
    return len(files)
