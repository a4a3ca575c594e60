"""The Common Transfer File (CTF XML) → the learner records the CSV layouts give, for one school.

Read (SPEC §3 "Standard formats"): `CTfile/Header/SourceSchool/{LEA, Estab}` is the school;
each `CTfile/CTFpupilData/Pupil` gives `UPN`, `Surname`, `Forename`,
`BasicDetails/NCyearActual` (R → Reception (0), 1…13, N1/N2/X → none) and
`SchoolHistory/School/{LEA, Estab, EntryDate, LeavingDate}`: the entry of the source school
gives the admission date and, when it has one, the leaving date. Pupils only: staff come from
another file. A `full` CTF (`Header/DocumentQualifier`) lists the whole school, so a learner it
leaves out is "not in export"; a partial one (the usual leavers' CTF) says nothing of absentees.

Hardened: the standard library's expat, with any DOCTYPE refused before it is read. With no DTD
there are no entity declarations, so no external entities (no file or network is ever read) and
no entity expansion (no "billion laughs"); an undeclared entity reference is malformed XML. The
bytes are size-limited before parsing. Errors are `file:line:element: reason`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from xml.parsers import expat

from hwb_tui.core.dates import ISO, parse_date
from hwb_tui.core.names import MAX_TEXT
from hwb_tui.provisioning.readers import (
    ExportFile,
    Record,
    RowError,
    _clean,
    _shown,
    decode,
    identity,
    name_error,
    year_of_code,
)

FORMAT = "ctf"
MAX_XML_BYTES = 256 * 1024 * 1024  # a whole secondary school's full CTF is tens of MB
_NO_YEAR = frozenset({"", "N1", "N2", "X"})
_TOO_LONG = {"max": MAX_TEXT}
_PUPIL_FIELDS = {
    ("UPN",): "UPN",
    ("Surname",): "Surname",
    ("Forename",): "Forename",
    ("BasicDetails", "NCyearActual"): "NCyearActual",
}
_HISTORY_FIELDS = ("LEA", "Estab", "EntryDate", "LeavingDate")


def year_of_ncyear(code: str) -> tuple[bool, int | None]:
    """(known, year group) of a CTF NCyearActual: R → 0, 1…13; nursery (N1, N2) and X → none."""
    return year_of_code(code, "R", _NO_YEAR)


def looks_like_xml(data: bytes) -> bool:
    """True when the bytes begin (after a BOM and white space) with '<'."""
    head = data[:256]
    for bom in (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"):
        if head.startswith(bom):
            if bom != b"\xef\xbb\xbf":
                try:
                    return head.decode("utf-16").lstrip().startswith("<")
                except UnicodeDecodeError:
                    return False
            head = head[len(bom):]
    return head.lstrip().startswith(b"<")


@dataclass
class CtfResult:
    """A CTF read: its school (None when the header does not say), and its learners."""

    school: str | None
    export: ExportFile
    version: str = ""


class _Refused(Exception):
    def __init__(self, what: str) -> None:
        self.what = what


@dataclass
class _Pupil:
    line: int
    values: dict[str, tuple[str, int]] = field(default_factory=dict)  # field → (text, line)
    history: list[dict[str, tuple[str, int]]] = field(default_factory=list)


class _Parser:
    """A streaming walk over the elements; only the paths the mapping reads are kept."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.stack: list[str] = []
        self.text: list[str] = []
        self.header: dict[str, tuple[str, int]] = {}
        self.pupils: list[_Pupil] = []
        self.pupil: _Pupil | None = None
        self.school_entry: dict[str, tuple[str, int]] | None = None
        self.root: str | None = None
        self.parser = expat.ParserCreate(encoding="UTF-8")
        p = self.parser
        p.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        p.StartDoctypeDeclHandler = self._doctype
        p.EntityDeclHandler = self._entity
        p.ExternalEntityRefHandler = self._external
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        p.CharacterDataHandler = self.text.append
        p.buffer_text = True

    # Any DTD is refused as soon as it starts: nothing in it is ever read or expanded.
    def _doctype(self, *_: Any) -> None:
        raise _Refused("doctype")

    def _entity(self, *_: Any) -> None:
        raise _Refused("entity")

    def _external(self, *_: Any) -> int:
        raise _Refused("entity")

    def _start(self, tag: str, _attrs: dict[str, str]) -> None:
        tag = tag.rpartition(":")[2]
        stack = self.stack
        if not stack:
            self.root = tag
            if tag != "CTfile":
                raise _Refused("root")
        stack.append(tag)
        self.text.clear()
        depth = len(stack)
        if depth == 3 and tag == "Pupil" and stack[1] == "CTFpupilData":
            self.pupil = _Pupil(self.parser.CurrentLineNumber)
        elif (self.pupil is not None and depth == 5 and tag == "School"
              and stack[3] == "SchoolHistory"):
            self.school_entry = {}
            self.pupil.history.append(self.school_entry)
        self._line = self.parser.CurrentLineNumber

    def _end(self, _tag: str) -> None:
        stack = self.stack
        depth = len(stack)
        tag = stack[-1]
        if depth >= 3 and stack[1] == "Header":
            self.header["/".join(stack[2:])] = ("".join(self.text), self._line)
        elif self.pupil is not None:
            if depth == 3:
                self.pupils.append(self.pupil)
                self.pupil = None
            else:
                path = tuple(stack[3:])
                fname = _PUPIL_FIELDS.get(path)
                if fname is not None and fname not in self.pupil.values:
                    self.pupil.values[fname] = ("".join(self.text), self._line)
                elif depth == 6 and self.school_entry is not None and tag in _HISTORY_FIELDS:
                    self.school_entry[tag] = ("".join(self.text), self._line)
                elif depth == 5 and tag == "School":
                    self.school_entry = None
        stack.pop()
        self.text.clear()


def read_ctf(data: bytes, name: str, school: str | None = None) -> CtfResult:
    """Read one CTF. `school`: the DfES number the operator named (--school), if any: a file
    from another school is refused. Never raises for anything in `data`."""
    export = ExportFile(name=name, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                        profile=FORMAT, identity_column="UPN")
    result = CtfResult(school, export)
    errors = export.errors
    if len(data) > MAX_XML_BYTES:
        export.fatal = True
        errors.append(RowError(name, 0, "file", "too_large_bytes", {"max": MAX_XML_BYTES}))
        return result
    try:
        text = decode(data)
    except UnicodeDecodeError as exc:
        export.fatal = True
        errors.append(RowError(name, 0, "file", "undecodable", {"encoding": exc.encoding}))
        return result
    parser = _Parser(name)
    try:
        # decoded as the CSV files are (so a Windows-1252 file keeps its letters), then given
        # to expat as UTF-8 whatever the XML declaration claims
        parser.parser.Parse(text.encode("utf-8", errors="replace"), True)
    except _Refused as refused:
        export.fatal = True
        line = parser.parser.CurrentLineNumber
        if refused.what == "root":
            errors.append(RowError(name, line, _shown(parser.root or "-"), "ctf_not_ctf"))
        else:
            errors.append(RowError(name, line, "DOCTYPE" if refused.what == "doctype"
                                   else "ENTITY", "xml_refused"))
        return result
    except expat.ExpatError as exc:
        export.fatal = True
        element = parser.stack[-1] if parser.stack else "-"
        errors.append(RowError(name, exc.lineno, _shown(element), "bad_xml",
                               {"detail": expat.errors.messages[exc.code]
                                if exc.code in expat.errors.messages else str(exc)}))
        return result
    if parser.root is None:
        export.fatal = True
        errors.append(RowError(name, 1, "CTfile", "empty_file"))
        return result
    result.version = _clean(parser.header.get("CTFversion", ("", 0))[0])
    source = _source_school(parser, name, export)
    if source is None:
        export.fatal = True
        return result
    if school is not None and source != school:
        export.fatal = True
        line = parser.header.get("SourceSchool/Estab", ("", 0))[1]
        errors.append(RowError(name, line, "SourceSchool", "ctf_other_school",
                               {"school": source, "wanted": school}))
        return result
    result.school = source
    qualifier = _clean(parser.header.get("DocumentQualifier", ("", 0))[0]).casefold()
    export.kind = "learner" if qualifier == "full" else None
    for pupil in parser.pupils:
        _pupil(pupil, source, name, export)
    export.rows = len(parser.pupils)
    return result


def _source_school(parser: _Parser, name: str, export: ExportFile) -> str | None:
    lea, lea_line = parser.header.get("SourceSchool/LEA", ("", 0))
    estab, estab_line = parser.header.get("SourceSchool/Estab", ("", 0))
    lea, estab = lea.strip(), estab.strip()
    ok = True
    for value, line, element, width in ((lea, lea_line, "LEA", 3), (estab, estab_line,
                                                                      "Estab", 4)):
        if not value:
            export.errors.append(RowError(name, line or 1, f"SourceSchool/{element}",
                                          "missing"))
            ok = False
        elif len(value) != width or not (value.isascii() and value.isdigit()):
            export.errors.append(RowError(name, line, f"SourceSchool/{element}",
                                          "ctf_bad_number", {"value": _shown(value),
                                                             "digits": width}))
            ok = False
    return lea + estab if ok else None


def _pupil(pupil: _Pupil, source: str, name: str, export: ExportFile) -> None:
    values = pupil.values
    errors = export.errors
    bad = False

    def get(fname: str) -> tuple[str, int]:
        return values.get(fname, ("", pupil.line))

    raw, line = get("UPN")
    upn, error = identity(raw, True, name, line, "UPN")
    if error is not None:
        errors.append(error)
        bad = True
    names: list[str] = []
    for element in ("Surname", "Forename"):
        raw, line = get(element)
        value = _clean(raw)
        error = name_error(value, name, line, element)
        if error is not None:
            errors.append(error)
            bad = True
        names.append(value)
    raw, line = get("NCyearActual")
    known, year = year_of_ncyear(raw)
    if not known:
        errors.append(RowError(name, line, "NCyearActual", "ctf_bad_year",
                               {"value": _shown(raw)}))
        bad = True
    entry_date: date | None = None
    leaving_date: date | None = None
    for entry in pupil.history:
        lea = entry.get("LEA", ("", 0))[0].strip()
        estab = entry.get("Estab", ("", 0))[0].strip()
        if lea + estab != source:
            continue
        days: dict[str, date | None] = {}
        for element in ("EntryDate", "LeavingDate"):
            raw, line = entry.get(element, ("", pupil.line))
            raw = raw.strip()
            day = parse_date(raw, ISO) if raw else None
            if raw and day is None:
                errors.append(RowError(name, line, element, "bad_date",
                                       {"value": _shown(raw), "format": "yyyy-mm-dd"}))
                bad = True
            days[element] = day
        entered, left = days["EntryDate"], days["LeavingDate"]
        # several spells at the school: the latest one speaks
        if entered is not None and (entry_date is None or entered >= entry_date):
            entry_date, leaving_date = entered, left
        elif entered is None and entry_date is None and left is not None:
            leaving_date = left
    if bad:
        return
    record = Record("learner", upn, names[0], names[1], name, pupil.line)
    record.admission_date = entry_date
    record.leaving_date = leaving_date
    record.year_group = year
    export.records.append(record)
