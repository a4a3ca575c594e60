"""OneRoster 1.1 and 1.2 CSV sets → the records the CSV layouts give, one roster per school.

A set is the files of one OneRoster export (a folder, or a zip) by file name: `manifest.csv`
(`propertyName,value`; `file.<name>` = bulk | delta | absent), `orgs.csv`, `users.csv`, and
`enrollments.csv` (1.1) or `roles.csv` (1.2). The mapping (SPEC §3 "Standard formats"):

- a school is an org of type `school` whose `identifier` is its DfES number; a user placed at an
  org that `orgs.csv` lacks, or at one of another type, is a row error;
- a `student` is a learner, identified by `identifier` = UPN; a `teacher`, `administrator` or
  `aide` (1.2 also `principal`, `siteAdministrator`) is staff, keyed by `identifier` as staff
  code; other roles (parents, guardians, ...) have no Hwb account from the MIS and are passed by;
- names: `familyName`, `givenName` (1.2's preferred names are not used for accounts);
- `grades` → year group: `KG` → Reception (0), `01`…`13` → 1…13, `PK` (nursery) → none, any
  other code a row error;
- a leaver: `status=tobedeleted` (leaving date = `dateLastModified`); or, at one school, every
  enrollment (1.1, from a bulk `enrollments.csv`) or role (1.2) ended on or before the run's
  date (leaving date = the latest `endDate`); `enabledUser` is not read;
- a bulk `users.csv` covers learners and staff (an account it does not list is "not in export",
  never a leaver); a delta lists only changes, so absence from it says nothing.

Every problem is a RowError `file:line:field` (in a zip, `set.zip!users.csv:12:identifier`),
attributed to the school(s) of the row when known, else to the whole set.
"""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from hwb_tui.core.dates import ISO, parse_date
from hwb_tui.core.names import MAX_TEXT
from hwb_tui.provisioning.layouts import header_key
from hwb_tui.provisioning.readers import (
    YEARS,
    ExportFile,
    Record,
    RowError,
    _clean,
    _shown,
    _upn_problem,
    decode,
    identity,
    name_error,
    year_of_code,
)

MEMBERS = ("manifest.csv", "orgs.csv", "users.csv", "enrollments.csv", "roles.csv")
ROLES = {"student": "learner", "teacher": "staff", "administrator": "staff", "aide": "staff",
         "principal": "staff", "siteadministrator": "staff"}
MODES = ("bulk", "delta", "absent")
_ROLES_AS_WRITTEN = {"student": "learner", "teacher": "staff", "administrator": "staff",
                     "aide": "staff"}
# grade codes as exports write them → year group (the fast path; others take year_of_grade)
_GRADE_YEARS: dict[str, int | None] = {"": None, "PK": None, "KG": 0}
_GRADE_YEARS.update({f"{y:02d}": y for y in YEARS})
_TOO_LONG = {"max": MAX_TEXT}
_ISO_SHOWN = "yyyy-mm-dd"
_NO_YEAR = frozenset({"", "PK"})


def year_of_grade(code: str) -> tuple[bool, int | None]:
    """(known, year group) of a OneRoster grade code: KG → 0 (Reception), 01…13 → 1…13."""
    return year_of_code(code, "KG", _NO_YEAR)


@dataclass
class Member:
    """One file of a set: its name as shown in errors, and its bytes (None: not readable)."""

    name: str
    data: bytes | None


@dataclass
class SetInput:
    """What a OneRoster set is read from: its name, digest, size and files by lower-case name."""

    name: str
    sha256: str
    size: int
    members: dict[str, Member] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)  # found opening it (bad zip, ...)


@dataclass
class SetResult:
    """A set read: per school (DfES) its export parts, and problems that no one school owns."""

    version: str
    schools: dict[str, list[ExportFile]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    fatal: bool = False


class _Table:
    """One CSV member: decoded, its header located; rows() yields (line, cells) padded."""

    def __init__(self, member: Member, errors: list[RowError]) -> None:
        self.name = member.name
        self.ok = False
        self.header: list[str] = []
        self.cols: dict[str, int] = {}
        self._errors = errors
        if member.data is None:
            return
        try:
            text = decode(member.data)
        except UnicodeDecodeError as exc:
            errors.append(RowError(self.name, 0, "file", "undecodable",
                                   {"encoding": exc.encoding}))
            return
        self._reader = csv.reader(io.StringIO(text, newline=""))
        try:
            header = next(self._reader, None)
        except csv.Error as exc:
            errors.append(RowError(self.name, 1, "file", "bad_csv", {"detail": str(exc)}))
            return
        if header is None:
            errors.append(RowError(self.name, 1, "header", "empty_file"))
            return
        self.header = [_clean(h) for h in header]
        for i, h in enumerate(self.header):
            self.cols.setdefault(header_key(h), i)
        self.ok = True

    def need(self, *names: str) -> bool:
        """True when every named column is in the header; else each missing one is reported."""
        missing = [n for n in names if header_key(n) not in self.cols]
        for name in missing:
            self._errors.append(RowError(self.name, 1, name, "missing_column",
                                         {"format": "OneRoster"}))
        if missing:
            self.ok = False
        return not missing

    def at(self, name: str) -> int | None:
        return self.cols.get(header_key(name))

    def shown(self, index: int) -> str:
        return self.header[index]

    def rows(self, width: int) -> Iterator[tuple[int, list[str]]]:
        reader = self._reader
        prev_end = reader.line_num
        try:
            for row in reader:
                line = prev_end + 1  # where the row starts (a quoted cell may span lines)
                prev_end = reader.line_num
                if len(row) < width:
                    if not any(cell.strip() for cell in row):
                        continue
                    row += [""] * (width - len(row))
                yield line, row
        except csv.Error as exc:
            self._errors.append(RowError(self.name, prev_end + 1, "file", "bad_csv",
                                         {"detail": str(exc)}))
            self.ok = False


def _day(raw: str) -> date | None:
    """A OneRoster date or date-time (`2026-11-20`, `2026-11-20T10:15:00.000Z`) → its date."""
    if len(raw) > 10 and raw[10] in "T ":
        raw = raw[:10]
    return parse_date(raw, ISO)


def read_set(source: SetInput, as_of: date, only: str | None = None) -> SetResult:
    """Read a OneRoster set. `only`: keep just that school's records (`--school`)."""
    # A national set makes millions of small objects, none in a reference cycle: the cyclic
    # collector would walk the growing heap again and again for nothing (a third of the time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _SetReader(source, as_of, only).read()
    finally:
        if collecting:
            gc.enable()


@dataclass(slots=True)
class _Place:
    """A user at one org: role, and what the enrollments or roles say of their time there."""

    role: str  # learner | staff
    ended: bool = True  # every enrollment/role there has ended (vacuously False when none)
    seen: bool = False  # any enrollment/role there at all
    last_end: date | None = None
    first_begin: date | None = None
    title: str = ""  # the OneRoster role as written (teacher, aide, ...): a staff record's role
    org: str = ""  # (enrollments) the org, while it is the user's only one


class _SetReader:
    def __init__(self, source: SetInput, as_of: date, only: str | None) -> None:
        self.source = source
        self.as_of = as_of
        self.only = only
        self.errors: list[RowError] = list(source.errors)
        self.fatal = bool(source.errors)
        self.modes: dict[str, str] = {}
        self.version = ""
        self.schools: dict[str, list[ExportFile]] = {}
        self.org_school: dict[str, str] = {}  # org sourcedId → DfES, for school orgs
        self.org_other: dict[str, str] = {}  # org sourcedId → its type, for other orgs
        self.org_bad: set[str] = set()  # school orgs with an unusable identifier (reported)
        self._identity_column = "identifier"

    # --- the set's files ----------------------------------------------------------------

    def member(self, name: str) -> Member | None:
        mode = self.modes.get(name.removesuffix(".csv"))
        found = self.source.members.get(name)
        if mode == "absent":
            return None
        if found is None and mode in ("bulk", "delta"):
            self.errors.append(RowError(self._manifest_name(), 0, f"file.{name[:-4]}",
                                        "oneroster_missing_file", {"file": name}))
            self.fatal = True
        return found

    def _manifest_name(self) -> str:
        found = self.source.members.get("manifest.csv")
        return found.name if found is not None else self.source.name

    def read(self) -> SetResult:
        if self.fatal:
            return SetResult("", errors=self.errors, fatal=True)
        self._manifest()
        orgs = self.member("orgs.csv")
        users = self.member("users.csv")
        for name, found in (("orgs.csv", orgs), ("users.csv", users)):
            if found is None and name[:-4] not in self.modes:  # (else member() said so)
                self.errors.append(RowError(self.source.name, 0, "file",
                                            "oneroster_missing_file", {"file": name}))
                self.fatal = True
        if self.fatal or orgs is None or users is None:
            return self._result()
        self._orgs(orgs)
        roles = self.member("roles.csv")
        places: dict[str, dict[str, _Place]] | None = None
        if roles is not None:
            self.version = self.version or "1.2"
            places = self._roles(roles)
        else:
            self.version = self.version or "1.1"
        enrollments = None if roles is not None else self.member("enrollments.csv")
        ends: dict[str, Any] | None = None
        if enrollments is not None and self.modes.get("enrollments", "bulk") == "bulk":
            ends = self._enrollments(enrollments)
        if not self.fatal:
            self._users(users, places, ends)
        return self._result()

    def _result(self) -> SetResult:
        return SetResult(self.version or "1.1", self.schools, self.errors, self.fatal)

    def _manifest(self) -> None:
        found = self.source.members.get("manifest.csv")
        if found is None:
            return  # a bare file set: each file present is bulk
        table = _Table(found, self.errors)
        if not table.ok or not table.need("propertyName", "value"):
            self.fatal = True
            return
        p_at, v_at = table.at("propertyName"), table.at("value")
        assert p_at is not None and v_at is not None
        for line, row in table.rows(max(p_at, v_at) + 1):
            prop, value = _clean(row[p_at]), _clean(row[v_at])
            if prop.casefold() == "oneroster.version":
                self.version = _shown(value, 10)  # it names the run's format
            elif prop.casefold().startswith("file."):
                mode = value.casefold()
                if mode not in MODES:
                    self.errors.append(RowError(found.name, line, table.shown(v_at),
                                                "oneroster_bad_mode", {"value": _shown(value)}))
                    self.fatal = True
                    continue
                self.modes[prop[5:].casefold()] = mode
        if not table.ok:
            self.fatal = True

    def _orgs(self, member: Member) -> None:
        table = _Table(member, self.errors)
        if not table.ok or not table.need("sourcedId", "type", "identifier"):
            self.fatal = True
            return
        sid_at, type_at, id_at = (table.at(n) for n in ("sourcedId", "type", "identifier"))
        assert sid_at is not None and type_at is not None and id_at is not None
        for line, row in table.rows(max(sid_at, type_at, id_at) + 1):
            sid = row[sid_at].strip()
            kind = _clean(row[type_at]).casefold()
            if not sid:
                self.errors.append(RowError(member.name, line, table.shown(sid_at), "missing"))
                continue
            if kind != "school":
                self.org_other[sid] = kind or "-"
                continue
            dfes = row[id_at].strip()
            if len(dfes) != 7 or not (dfes.isascii() and dfes.isdigit()):
                self.errors.append(RowError(member.name, line, table.shown(id_at),
                                            "oneroster_not_dfes", {"value": _shown(dfes)}))
                self.org_bad.add(sid)
                continue
            self.org_school[sid] = dfes
        if not table.ok:
            self.fatal = True

    def _dated(self, member: Member, table: _Table, line: int, at: int | None, row: list[str],
               dfes: str | None) -> tuple[bool, date | None]:
        """(ok, date) of an optional date cell; a bad one is reported against its school."""
        if at is None:
            return True, None
        raw = row[at].strip()
        if not raw:
            return True, None
        day = _day(raw)
        if day is None:
            self._error(RowError(member.name, line, table.shown(at), "bad_date",
                                 {"value": _shown(raw), "format": _ISO_SHOWN}), [dfes])
            return False, None
        return True, day

    def _enrollments(self, member: Member) -> dict[str, Any]:
        """1.1, bulk: per user, per school org, whether every enrollment there has ended.

        A user → their _Place when all their enrollments are at one org (nearly everyone),
        else → {org: _Place}; `_enrolled` gives the second form for any user."""
        ends: dict[str, Any] = {}
        table = _Table(member, self.errors)
        if not table.ok or not table.need("userSourcedId", "schoolSourcedId"):
            self.fatal = True
            return ends
        u_at, s_at = table.at("userSourcedId"), table.at("schoolSourcedId")
        b_at, e_at, st_at = table.at("beginDate"), table.at("endDate"), table.at("status")
        assert u_at is not None and s_at is not None
        width = max(i for i in (u_at, s_at, b_at, e_at, st_at) if i is not None) + 1
        as_of = self.as_of
        org_school = self.org_school
        days: dict[str, date | None] = {"": None}  # every cell's date, parsed once
        for line, row in table.rows(width):
            if st_at is not None and row[st_at] and \
                    row[st_at].strip().casefold() == "tobedeleted":
                continue  # an enrollment withdrawn: not one the user has
            user, org = row[u_at].strip(), row[s_at].strip()
            raw_begin = row[b_at] if b_at is not None else ""
            raw_end = row[e_at] if e_at is not None else ""
            try:
                begin, end = days[raw_begin], days[raw_end]
            except KeyError:
                dfes = org_school.get(org)
                ok, begin = self._dated(member, table, line, b_at, row, dfes)
                ok2, end = self._dated(member, table, line, e_at, row, dfes)
                if not (ok and ok2):
                    continue
                days[raw_begin], days[raw_end] = begin, end
            found = ends.get(user)
            if found is None:
                ended = end is not None and end <= as_of
                ends[user] = _Place("", ended, True, end if ended else None, begin, "", org)
                continue
            if type(found) is _Place:
                if found.org == org:
                    _seen(found, begin, end, as_of)
                    continue
                found = ends[user] = {found.org: found}
            place = found.get(org)
            if place is None:
                ended = end is not None and end <= as_of
                found[org] = _Place("", ended, True, end if ended else None, begin, "", org)
                continue
            _seen(place, begin, end, as_of)
        if not table.ok:
            self.fatal = True
        return ends

    def _roles(self, member: Member) -> dict[str, dict[str, _Place]]:
        """1.2: per user, per org, the role held there and whether it has ended."""
        places: dict[str, dict[str, _Place]] = {}
        table = _Table(member, self.errors)
        if not table.ok or not table.need("userSourcedId", "role", "orgSourcedId"):
            self.fatal = True
            return places
        u_at, r_at, o_at = table.at("userSourcedId"), table.at("role"), table.at("orgSourcedId")
        b_at, e_at, st_at = table.at("beginDate"), table.at("endDate"), table.at("status")
        m_at = table.at("dateLastModified")
        assert u_at is not None and r_at is not None and o_at is not None
        width = max(i for i in (u_at, r_at, o_at, b_at, e_at, st_at, m_at) if i is not None) + 1
        for line, row in table.rows(width):
            title = _clean(row[r_at])
            role = ROLES.get(title.casefold())
            if role is None:
                continue
            user, org = row[u_at].strip(), row[o_at].strip()
            dfes = self.org_school.get(org)
            ok, begin = self._dated(member, table, line, b_at, row, dfes)
            ok2, end = self._dated(member, table, line, e_at, row, dfes)
            if not (ok and ok2):
                continue
            at_user = places.setdefault(user, {})
            place = at_user.get(org)
            if place is None:
                place = at_user[org] = _Place(role, title=title)
            elif place.role == "learner" and role == "staff":
                place.role, place.title = role, title  # staff who also study there: staff
            if st_at is not None and row[st_at].strip().casefold() == "tobedeleted":
                # a role withdrawn: it ended when it was marked so
                ok3, gone = self._dated(member, table, line, m_at, row, dfes)
                if ok3 and gone is None:
                    column = table.shown(m_at) if m_at is not None else "dateLastModified"
                    self._error(RowError(member.name, line, column, "missing"), [dfes])
                if gone is None:
                    continue
                end, begin = gone, None
            _seen(place, begin, end, self.as_of)
        if not table.ok:
            self.fatal = True
        return places

    # --- users --------------------------------------------------------------------------

    def _error(self, error: RowError, schools: list[str | None]) -> None:
        owners = [s for s in schools if s is not None]
        if not owners:
            self.errors.append(error)
            return
        for dfes in owners:
            parts = self._parts(dfes)
            if parts is not None:
                parts[0].errors.append(error)

    def _parts(self, dfes: str) -> list[ExportFile] | None:
        if self.only is not None and dfes != self.only:
            return None
        parts = self.schools.get(dfes)
        if parts is None:
            parts = self.schools[dfes] = [self._export(kind) for kind in ("learner", "staff")]
        return parts

    def _export(self, kind: str) -> ExportFile:
        bulk = self.modes.get("users", "bulk") == "bulk"
        users = self.source.members["users.csv"]
        return ExportFile(name=users.name, sha256=self.source.sha256,
                          profile=f"oneroster-{self.version}", kind=kind if bulk else None,
                          identity_column=self._identity_column)

    def _users(self, member: Member, places: dict[str, dict[str, _Place]] | None,
               ends: dict[str, Any] | None) -> None:
        table = _Table(member, self.errors)
        needed = ["sourcedId", "identifier", "givenName", "familyName"]
        if places is None:
            needed += ["orgSourcedIds", "role"]
        if not table.ok or not table.need(*needed):
            self.fatal = True
            return
        at = {name: table.at(name) for name in (
            "sourcedId", "identifier", "givenName", "familyName", "orgSourcedIds", "role",
            "status", "dateLastModified", "grades", "primaryOrgSourcedId")}
        width = max(i for i in at.values() if i is not None) + 1
        self._identity_column = table.shown(at["identifier"])  # type: ignore[arg-type]
        sid_at, orgs_at, role_at = at["sourcedId"], at["orgSourcedIds"], at["role"]
        assert sid_at is not None
        name = member.name
        id_at, family_at, given_at = at["identifier"], at["familyName"], at["givenName"]
        status_at, grades_at = at["status"], at["grades"]
        assert id_at is not None and family_at is not None and given_at is not None
        org_school = self.org_school
        schools = self.schools
        only = self.only
        for line, row in table.rows(width):
            sid = row[sid_at].strip()
            here: dict[str, _Place] | None = None
            org: str | None = None
            begin: date | None = None
            left: date | None = None
            place: _Place | None = None
            if places is not None:
                here = places.get(sid)
                if not here:
                    continue  # no role we provision (or, in a delta, no role row)
                if len(here) == 1:
                    ((org, place),) = here.items()
                    kind, title = place.role, place.title
            else:
                assert orgs_at is not None and role_at is not None
                title = row[role_at]
                found = _ROLES_AS_WRITTEN.get(title)
                if found is None:
                    title = _clean(title)
                    found = ROLES.get(title.casefold())
                    if found is None:
                        if not title:  # not a parent's row: a row that says nothing of who
                            self._error(RowError(name, line, table.shown(role_at), "missing"),
                                        [org_school.get(o.strip())
                                         for o in row[orgs_at].split(",")])
                        continue  # a parent, guardian, ...: no MIS account
                kind = found
                orgs = row[orgs_at]
                enrolled = ends.get(sid) if ends is not None else None
                if "," not in orgs and (enrolled is None or (type(enrolled) is _Place
                                                             and enrolled.org == orgs)):
                    org = orgs
                    place = enrolled
            if place is not None:
                begin = place.first_begin
                left = place.last_end if place.seen and place.ended else None
            # The common row, decided inline (a national set has 600,000): one school, no
            # status, every value clean. Anything else takes _user, which reports.
            if org is not None and (status_at is None or not row[status_at]):
                dfes = org_school.get(org)
                if dfes is not None and (only is None or dfes == only):
                    learner = kind == "learner"
                    ident = row[id_at]
                    year: int | None = None
                    if learner:
                        ident = ident.strip().upper()
                        ok = bool(ident) and _upn_problem(ident) is None
                        if grades_at is not None:
                            year = _GRADE_YEARS.get(row[grades_at], -1)
                            ok = ok and year != -1
                    else:
                        ok = ident.isprintable()
                        ident = ident.strip()
                        ok = ok and 0 < len(ident) <= MAX_TEXT
                    family, given = row[family_at], row[given_at]
                    if ok and family.isprintable() and given.isprintable():
                        family, given = family.strip(), given.strip()
                        if 0 < len(family) <= MAX_TEXT and 0 < len(given) <= MAX_TEXT:
                            parts = schools.get(dfes) or self._parts(dfes)
                            assert parts is not None
                            export = parts[0] if learner else parts[1]
                            export.rows += 1
                            export.records.append(Record(
                                kind, ident, family, given, name, line, None, begin, left,
                                year, None, None if learner else (title or None)))
                            continue
            if here is None:
                assert orgs_at is not None
                enrolled = _enrolled(ends.get(sid) if ends is not None else None)
                here = {}
                for org in row[orgs_at].split(","):
                    org = org.strip()
                    if org:
                        here[org] = enrolled.get(org) or _Place(kind)
                for org, place in enrolled.items():
                    here.setdefault(org, place)
                for place in here.values():
                    place.role, place.title = kind, title
            self._user(name, table, line, row, here, at)

    def _user(self, name: str, table: _Table, line: int, row: list[str],
              here: dict[str, _Place], at: dict[str, int | None]) -> None:
        """One users.csv row placed at its orgs: a record per school, or its errors."""
        schools: list[tuple[str, _Place]] = []
        problems: list[RowError] = []
        orgs_at = at["orgSourcedIds"]
        org_column = table.shown(orgs_at) if orgs_at is not None else "orgSourcedId"
        for org, place in here.items():
            dfes = self.org_school.get(org)
            if dfes is not None:
                schools.append((dfes, place))
            elif org in self.org_bad:
                continue  # its identifier is already reported
            elif org in self.org_other:
                problems.append(RowError(name, line, org_column, "oneroster_not_school",
                                         {"org": _shown(org), "type": self.org_other[org]}))
            else:
                problems.append(RowError(name, line, org_column, "oneroster_unknown_org",
                                         {"org": _shown(org)}))
        owners: list[str | None] = [d for d, _ in schools]
        bad = bool(problems)
        ident_at = at["identifier"]
        assert ident_at is not None
        gone: date | None = None
        status_at, mod_at = at["status"], at["dateLastModified"]
        if status_at is not None and row[status_at].strip().casefold() == "tobedeleted":
            raw = row[mod_at].strip() if mod_at is not None else ""
            gone = _day(raw) if raw else None
            if gone is None:
                column = table.shown(mod_at) if mod_at is not None else "dateLastModified"
                problems.append(RowError(name, line, column, "bad_date", {
                    "value": _shown(raw), "format": _ISO_SHOWN}) if raw
                    else RowError(name, line, column, "missing"))
                bad = True
        learner = any(p.role == "learner" for _, p in schools) or (
            not schools and any(p.role == "learner" for p in here.values()))
        ident, error = identity(row[ident_at], learner, name, line, table.shown(ident_at))
        if error is not None:
            problems.append(error)
            bad = True
        names: list[str] = []
        for key in ("familyName", "givenName"):
            col = at[key]
            assert col is not None
            value = _clean(row[col])
            error = name_error(value, name, line, table.shown(col))
            if error is not None:
                problems.append(error)
                bad = True
            names.append(value)
        year: int | None = None
        grades_at = at["grades"]
        if learner and grades_at is not None:
            codes = [c for c in row[grades_at].split(",") if c.strip()]
            known, year = year_of_grade(codes[0] if codes else "")
            if not known:
                problems.append(RowError(name, line, table.shown(grades_at),
                                         "oneroster_bad_grade", {"value": _shown(codes[0])}))
                bad = True
        current = [(d, p) for d, p in schools if not _left(p, gone)]
        if learner and current:
            # a learner who left one school of the set and is current at another is moving:
            # that school's run moves the account, and no leaving record races it
            schools = current
        if learner and len({d for d, _ in current}) > 1:
            primary_at = at["primaryOrgSourcedId"]
            primary = self.org_school.get(row[primary_at].strip()) if primary_at else None
            if primary is not None and any(d == primary for d, _ in current):
                schools = [(d, p) for d, p in schools if d == primary or _left(p, gone)]
            else:
                problems.append(RowError(name, line, org_column, "oneroster_many_schools",
                                         {"schools": ", ".join(sorted({d for d, _ in current}))}))
                bad = True
        for problem_row in problems:
            self._error(problem_row, owners)
        for dfes, place in schools:
            parts = self._parts(dfes)
            if parts is None:
                continue
            export = parts[0] if place.role == "learner" else parts[1]
            export.rows += 1
            if bad:
                continue
            record = Record(place.role, ident, names[0], names[1], name, line)
            record.admission_date = place.first_begin
            if gone is not None:
                record.leaving_date = gone
            elif place.seen and place.ended:
                record.leaving_date = place.last_end
            if place.role == "learner":
                record.year_group = year
            else:
                record.role = place.title or None
            export.records.append(record)


def _enrolled(found: Any) -> dict[str, _Place]:
    """A user's enrollments by org, whichever form `_enrollments` kept them in."""
    if found is None:
        return {}
    if type(found) is _Place:
        return {found.org: found}
    return dict(found)


def _seen(place: _Place, begin: date | None, end: date | None, as_of: date) -> None:
    """One enrollment (or role) of a user at an org: has it ended by the run's date?"""
    place.seen = True
    if end is None or end > as_of:
        place.ended = False
    elif place.last_end is None or end > place.last_end:
        place.last_end = end
    if begin is not None and (place.first_begin is None or begin < place.first_begin):
        place.first_begin = begin


def _left(place: _Place, gone: date | None) -> bool:
    return gone is not None or (place.seen and place.ended)


def as_dict(result: SetResult) -> dict[str, Any]:
    """A summary for debugging and tests: schools and record counts."""
    return {d: [len(p.records) for p in parts] for d, parts in result.schools.items()}
