"""Builders for the standard formats in tests: OneRoster 1.1 / 1.2 CSV sets and CTF XML."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

ORGS = ["sourcedId", "status", "dateLastModified", "name", "type", "identifier",
        "parentSourcedId"]
USERS_11 = ["sourcedId", "status", "dateLastModified", "enabledUser", "orgSourcedIds", "role",
            "username", "userIds", "givenName", "familyName", "middleName", "identifier",
            "email", "sms", "phone", "agentSourcedIds", "grades", "password"]
ENROLLMENTS = ["sourcedId", "status", "dateLastModified", "classSourcedId", "schoolSourcedId",
               "userSourcedId", "role", "primary", "beginDate", "endDate"]
USERS_12 = ["sourcedId", "status", "dateLastModified", "enabledUser", "username", "userIds",
            "givenName", "familyName", "middleName", "identifier", "email", "sms", "phone",
            "agentSourcedIds", "grades", "password", "userMasterIdentifier",
            "resourceSourcedIds", "preferredGivenName", "preferredMiddleName",
            "preferredFamilyName", "primaryOrgSourcedId", "pronouns"]
ROLES = ["sourcedId", "status", "dateLastModified", "userSourcedId", "roleType", "role",
         "beginDate", "endDate", "orgSourcedId", "userProfileSourcedId"]


def org_id(dfes: str) -> str:
    return f"org-{dfes}"


def _table(header: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return out.getvalue().encode("utf-8")


@dataclass
class OneRoster:
    """A OneRoster set being built: orgs, users, and enrollments (1.1) or roles (1.2)."""

    version: str = "1.1"
    mode: str = "bulk"  # of users (and enrollments / roles)
    orgs: list[dict[str, str]] = field(default_factory=list)
    users: list[dict[str, str]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)  # enrollments or roles
    manifest: bool = True

    def school(self, dfes: str, name: str = "Ysgol", kind: str = "school",
               identifier: str | None = None) -> OneRoster:
        self.orgs.append({"sourcedId": org_id(dfes), "name": name, "type": kind,
                          "identifier": dfes if identifier is None else identifier,
                          "parentSourcedId": "la-661"})
        return self

    def person(self, sid: str, identifier: str, family: str, given: str, *, role: str,
               dfes: str | list[str], grades: str = "", status: str = "",
               modified: str = "", begin: str = "2026-09-01", end: str = "",
               orgs: str | None = None, primary: str = "", preferred: str = "",
               link: bool = True) -> OneRoster:
        schools = [dfes] if isinstance(dfes, str) else dfes
        user = {"sourcedId": sid, "status": status, "dateLastModified": modified,
                "enabledUser": "true", "username": f"{sid}@school", "givenName": given,
                "familyName": family, "identifier": identifier, "grades": grades,
                "preferredGivenName": preferred, "primaryOrgSourcedId": primary}
        if self.version == "1.1":
            user["orgSourcedIds"] = orgs if orgs is not None else ",".join(
                org_id(d) for d in schools)
            user["role"] = role
        self.users.append(user)
        if link:
            for d in schools:
                self.link(sid, d, role=role, begin=begin, end=end)
        return self

    def link(self, sid: str, dfes: str, *, role: str, begin: str = "2026-09-01",
             end: str = "", status: str = "", modified: str = "") -> OneRoster:
        n = len(self.links) + 1
        if self.version == "1.1":
            self.links.append({"sourcedId": f"enr-{n}", "status": status,
                               "dateLastModified": modified,
                               "classSourcedId": f"class-{dfes}", "schoolSourcedId":
                               org_id(dfes), "userSourcedId": sid, "role": role,
                               "primary": "false", "beginDate": begin, "endDate": end})
        else:
            self.links.append({"sourcedId": f"role-{n}", "status": status,
                               "dateLastModified": modified, "userSourcedId": sid,
                               "roleType": "primary", "role": role, "beginDate": begin,
                               "endDate": end, "orgSourcedId": org_id(dfes)})
        return self

    def student(self, sid: str, upn: str, family: str, given: str, dfes: str | list[str],
                grades: str = "09", **kw: str) -> OneRoster:
        return self.person(sid, upn, family, given, role="student", dfes=dfes, grades=grades,
                           **kw)

    def teacher(self, sid: str, code: str, family: str, given: str, dfes: str | list[str],
                **kw: str) -> OneRoster:
        return self.person(sid, code, family, given, role="teacher", dfes=dfes, **kw)

    def files(self) -> dict[str, bytes]:
        linked = "enrollments" if self.version == "1.1" else "roles"
        out: dict[str, bytes] = {}
        if self.manifest:
            props = [("manifest.version", "1.0"), ("oneroster.version", self.version),
                     ("file.orgs", "bulk"), ("file.users", self.mode),
                     (f"file.{linked}", self.mode), ("file.classes", "absent")]
            out["manifest.csv"] = _table(["propertyName", "value"], [
                {"propertyName": p, "value": v} for p, v in props])
        out["orgs.csv"] = _table(ORGS, self.orgs)
        out["users.csv"] = _table(USERS_11 if self.version == "1.1" else USERS_12, self.users)
        out[f"{linked}.csv"] = _table(ENROLLMENTS if self.version == "1.1" else ROLES,
                                      self.links)
        return out

    def zip(self, path: Path) -> Path:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in self.files().items():
                archive.writestr(name, data)
        return path

    def folder(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        for name, data in self.files().items():
            (path / name).write_bytes(data)
        return path


@dataclass
class Pupil:
    upn: str
    surname: str
    forename: str
    year: str = "9"
    history: list[tuple[str, str, str, str]] = field(default_factory=list)  # lea, estab, in, out


def ctf(source: str, pupils: list[Pupil], *, qualifier: str = "partial",
        dest: str = "6612004", raw_pupils: str = "") -> bytes:
    """A CTF from school `source` (DfES) with these pupils."""
    body = []
    for p in pupils:
        schools = "".join(
            f"<School><LEA>{lea}</LEA><Estab>{estab}</Estab><SchoolName>Ysgol</SchoolName>"
            f"<EntryDate>{entry}</EntryDate>"
            + (f"<LeavingDate>{leaving}</LeavingDate>" if leaving else "")
            + "</School>\n" for lea, estab, entry, leaving in p.history)
        body.append(
            f"  <Pupil>\n    <UPN>{escape(p.upn)}</UPN>\n    <Surname>{escape(p.surname)}"
            f"</Surname>\n    <Forename>{escape(p.forename)}</Forename>\n"
            f"    <DOB>2012-05-01</DOB><Sex>F</Sex>\n"
            f"    <BasicDetails><NCyearActual>{escape(p.year)}</NCyearActual>"
            f"<Language>WEL</Language></BasicDetails>\n"
            f"    <SchoolHistory>\n{schools}    </SchoolHistory>\n  </Pupil>\n")
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<CTfile>\n <Header>\n'
        "  <DocumentName>Common Transfer File</DocumentName>\n  <CTFversion>18.0</CTFversion>\n"
        "  <DateTime>2026-07-20T10:00:00</DateTime>\n"
        f"  <DocumentQualifier>{qualifier}</DocumentQualifier>\n"
        "  <SupplierID>SIMS</SupplierID>\n"
        f"  <SourceSchool><LEA>{source[:3]}</LEA><Estab>{source[3:]}</Estab>"
        "<SchoolName>Ysgol</SchoolName><AcademicYear>2026</AcademicYear></SourceSchool>\n"
        f"  <DestSchool><LEA>{dest[:3]}</LEA><Estab>{dest[3:]}</Estab></DestSchool>\n"
        " </Header>\n <CTFpupilData>\n" + "".join(body) + raw_pupils
        + " </CTFpupilData>\n</CTfile>\n")
    return text.encode("utf-8")


def iso(day: date | None) -> str:
    return day.isoformat() if day else ""
