"""The school register: DfES numbers, adding, renaming and closing schools, and what refers to one.

A school is registered before anything refers to it (SPEC §1). Only a Hwb administrator whose
scope is every school may change the register; every change is audited in its own transaction
with the change. A closed school keeps its users but takes no more provisioning runs and no new
users or operators.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from hwb_tui.core import clock
from hwb_tui.core.access import Actor, recheck
from hwb_tui.core.audit import audit
from hwb_tui.core.errors import (
    InvalidDfES,
    InvalidValue,
    NotPermitted,
    Phrase,
    SchoolClosed,
    SchoolExists,
    SchoolNotFound,
)
from hwb_tui.core.models import (
    Operator,
    OperatorSchool,
    ProvisioningRun,
    School,
    User,
)
from hwb_tui.core.names import MAX_TEXT, WELSH_LA_NUMBERS, display_safe

LA_NUMBERS = WELSH_LA_NUMBERS  # Wales's 22 local authorities (core.names: a UPN's too)
# Wales's principal local authorities, English and Welsh names (shared/data/local-authorities.csv):
# a register's "Local Authority" column may name one instead of giving its number.
AUTHORITIES = (
    ("Isle of Anglesey", "Ynys Môn"), ("Blaenau Gwent", "Blaenau Gwent"),
    ("Bridgend", "Pen-y-bont ar Ogwr"), ("Caerphilly", "Caerffili"), ("Cardiff", "Caerdydd"),
    ("Carmarthenshire", "Sir Gaerfyrddin"), ("Ceredigion", "Ceredigion"), ("Conwy", "Conwy"),
    ("Denbighshire", "Sir Ddinbych"), ("Flintshire", "Sir y Fflint"), ("Gwynedd", "Gwynedd"),
    ("Merthyr Tydfil", "Merthyr Tudful"), ("Monmouthshire", "Sir Fynwy"),
    ("Neath Port Talbot", "Castell-nedd Port Talbot"), ("Newport", "Casnewydd"),
    ("Pembrokeshire", "Sir Benfro"), ("Powys", "Powys"), ("Rhondda Cynon Taf", "Rhondda Cynon Taf"),
    ("Swansea", "Abertawe"), ("Torfaen", "Tor-faen"), ("Vale of Glamorgan", "Bro Morgannwg"),
    ("Wrexham", "Wrecsam"),
)
_AUTHORITY_KEYS = {" ".join(n.split()).casefold() for pair in AUTHORITIES for n in pair}


class SchoolAction(StrEnum):
    """What the audit log records of a change to the register."""

    ADD = "school_add"
    RENAME = "school_rename"
    CLOSE = "school_close"


class RegisterChange(StrEnum):
    """What adding or importing did to one school."""

    ADDED = "added"
    RENAMED = "renamed"
    UNCHANGED = "unchanged"


def dfes_problem(value: str) -> str | None:
    """Why `value` is not a Welsh DfES number (a message key under validation.dfes_), or None."""
    if not (len(value) == 7 and value.isascii() and value.isdigit()):
        return "validation.dfes_digits"
    if int(value[:3]) not in LA_NUMBERS:
        return "validation.dfes_la"
    return None


def parse_dfes(value: str) -> str:
    """`value` as a DfES number, or InvalidDfES (one line saying what a DfES number is)."""
    text = value.strip()
    problem = dfes_problem(text)
    if problem is not None:
        raise InvalidDfES(value=display_safe(value), reason=Phrase(problem))
    return text


def la_problem(la: str, dfes: str) -> str | None:
    """Why `la` (a number or an authority's name) does not fit `dfes`; a message key or None."""
    text = " ".join(la.split())
    if not text:
        return None
    if text.isascii() and text.isdigit():
        if int(text) not in LA_NUMBERS:
            return "validation.la_range"
        if dfes[:3] != text.zfill(3):
            return "validation.la_mismatch"
        return None
    if text.casefold() not in _AUTHORITY_KEYS:
        return "validation.la_unknown"
    return None


@dataclass(frozen=True)
class Entry:
    """One school as a register file or `schools add` gives it. name_cy None: not given."""

    dfes: str
    name: str
    name_cy: str | None
    where: str = ""  # file:line, for reports


def entry_problems(dfes: str, name: str, name_cy: str | None, la: str = ""
                   ) -> list[tuple[str, str, dict[str, Any]]]:
    """Every problem of one entry: (field, message key, params). The field is dfes, name_en,
    name_cy or la, as the documented layout calls them."""
    problems: list[tuple[str, str, dict[str, Any]]] = []
    dfes_bad = dfes_problem(dfes)
    if dfes_bad:
        problems.append(("dfes", dfes_bad, {}))
    for fld, value in (("name_en", name), ("name_cy", name_cy)):
        if value is None:
            continue
        if not value.strip():
            problems.append((fld, "validation.name_required", {}))
        elif len(value) > MAX_TEXT:
            problems.append((fld, "validation.too_long", {"max": MAX_TEXT}))
    if la and not dfes_bad:
        la_bad = la_problem(la, dfes)
        if la_bad:
            problems.append(("la", la_bad, {"la": la, "dfes_la": dfes[:3]}))
    return problems


def require_register_admin(actor: Actor) -> None:
    """Only a Hwb administrator whose scope is every school changes the register."""
    if not actor.is_admin or actor.schools is not None:
        raise NotPermitted(detail=Phrase("permission.register_admin_only"))


def _clean(name: str) -> str:
    return " ".join(display_safe(name).split())


def add_school(session: Session, actor: Actor, dfes: str, name: str, name_cy: str,
               la: str = "") -> School:
    """Register one school; a number already registered is refused (import renames)."""
    actor = recheck(session, actor)
    require_register_admin(actor)
    dfes = parse_dfes(dfes)
    problems = entry_problems(dfes, _clean(name), _clean(name_cy), la)
    if problems:
        fld, key, params = problems[0]
        raise InvalidValue(field=fld, reason=Phrase(key, **params))
    if session.get(School, dfes) is not None:
        raise SchoolExists(dfes=dfes)
    school = School(dfes=dfes, name=_clean(name), name_cy=_clean(name_cy),
                    la_number=int(dfes[:3]))
    session.add(school)
    session.flush()
    audit(session, actor.login, SchoolAction.ADD, school=dfes,
          detail={"name": school.name, "name_cy": school.name_cy})
    return school


@dataclass
class RegisterResult:
    """What an import did (or, in a dry run, would do) to each school it lists."""

    changes: list[tuple[Entry, RegisterChange]] = field(default_factory=list)

    def count(self, change: RegisterChange) -> int:
        return sum(1 for _, c in self.changes if c is change)


def import_register(session: Session, actor: Actor, entries: Sequence[Entry],
                    dry_run: bool = False) -> RegisterResult:
    """Add the schools not yet registered and rename those whose names changed; a school
    registered but absent from the file stays as it is (a register never removes)."""
    actor = recheck(session, actor)
    require_register_admin(actor)
    known = registered_many(session, (e.dfes for e in entries))
    result = RegisterResult()
    for entry in entries:
        name = _clean(entry.name)
        name_cy = _clean(entry.name_cy) if entry.name_cy is not None else None
        existing = known.get(entry.dfes)
        if existing is None:
            school = School(dfes=entry.dfes, name=name, name_cy=name_cy or name,
                            la_number=int(entry.dfes[:3]))
            known[entry.dfes] = school
            result.changes.append((entry, RegisterChange.ADDED))
            if not dry_run:
                session.add(school)
                session.flush()
                audit(session, actor.login, SchoolAction.ADD, school=entry.dfes,
                      detail={"name": school.name, "name_cy": school.name_cy,
                              "from": entry.where})
            continue
        school = existing
        new_cy = name_cy if name_cy is not None else school.name_cy
        if (school.name, school.name_cy) == (name, new_cy):
            result.changes.append((entry, RegisterChange.UNCHANGED))
            continue
        result.changes.append((entry, RegisterChange.RENAMED))
        if not dry_run:
            detail = {"name": name, "name_cy": new_cy, "was_name": school.name,
                      "was_name_cy": school.name_cy, "from": entry.where}
            school.name, school.name_cy = name, new_cy
            session.add(school)
            audit(session, actor.login, SchoolAction.RENAME, school=entry.dfes, detail=detail)
    if not dry_run:
        session.flush()
    return result


def close_school(session: Session, actor: Actor, dfes: str) -> School:
    """Close a school: no more runs or new users there; its users and history stay."""
    actor = recheck(session, actor)
    require_register_admin(actor)
    school = registered(session, parse_dfes(dfes))
    if school.closed_at is not None:
        raise closed_error(school)
    school.closed_at = clock.now()
    school.closed_by = actor.login
    session.add(school)
    session.flush()
    audit(session, actor.login, SchoolAction.CLOSE, school=school.dfes)
    return school


def registered(session: Session, dfes: str) -> School:
    """The school `dfes`, or SchoolNotFound saying how to register it."""
    school = session.get(School, dfes)
    if school is None:
        raise SchoolNotFound(dfes=display_safe(dfes))
    return school


def require_open(session: Session, dfes: str) -> School:
    """The school `dfes`, registered and not closed: where new users, runs and operators go."""
    school = registered(session, dfes)
    if school.closed_at is not None:
        raise closed_error(school)
    return school


def closed_error(school: School) -> SchoolClosed:
    """The refusal for a closed school, saying who closed it and when."""
    at = school.closed_at.strftime("%Y-%m-%d") if school.closed_at else "?"
    return SchoolClosed(dfes=school.dfes, by=school.closed_by or "?", at=at)


def registered_many(session: Session, numbers: Iterable[str]) -> dict[str, School]:
    """The registered schools among these DfES numbers (one query a 500), by number."""
    wanted = sorted(set(numbers))
    found: dict[str, School] = {}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        for school in session.exec(select(School).where(col(School.dfes).in_(chunk))).all():
            found[school.dfes] = school
    return found


def list_schools(session: Session, actor: Actor, la: int | None = None) -> list[School]:
    """The registered schools in the actor's scope, by DfES number, optionally of one LA."""
    actor = recheck(session, actor)
    stmt = select(School).order_by(col(School.dfes))
    if la is not None:
        stmt = stmt.where(col(School.la_number) == la)
    if actor.schools is not None:
        stmt = stmt.where(col(School.dfes).in_(sorted(actor.schools)))
    return list(session.exec(stmt).all())


def user_count(session: Session, dfes: str) -> int:
    """How many accounts (any kind or status) belong to the school."""
    return int(session.exec(select(func.count()).select_from(User)
                            .where(col(User.school) == dfes)).one())


@dataclass(frozen=True)
class OperatorOfSchool:
    login: str
    role: str
    disabled: bool
    all_schools: bool


@dataclass(frozen=True)
class SchoolSummary:
    """`schools show`: the school, who operates it, how many users it has, its last good run."""

    school: School
    operators: list[OperatorOfSchool]
    users: dict[str, dict[str, int]]  # kind -> status -> count
    last_applied_run: ProvisioningRun | None
    last_applied_at: datetime | None


def summary(session: Session, actor: Actor, dfes: str) -> SchoolSummary:
    actor = recheck(session, actor)
    dfes = parse_dfes(dfes)
    actor.require_school(dfes)
    school = registered(session, dfes)
    named = session.exec(
        select(Operator).join(OperatorSchool, col(OperatorSchool.login) == col(Operator.login))
        .where(col(OperatorSchool.school) == dfes).order_by(col(Operator.login))).all()
    everywhere = session.exec(select(Operator).where(col(Operator.all_schools))
                              .order_by(col(Operator.login))).all()
    ops = [OperatorOfSchool(o.login, o.role, o.disabled, o.all_schools)
           for o in list(named) + list(everywhere)]
    counts: dict[str, dict[str, int]] = {}
    rows = session.exec(select(User.kind, User.status, func.count())
                        .where(col(User.school) == dfes).group_by(User.kind, User.status)).all()
    for kind, status, n in rows:
        counts.setdefault(kind, Counter())[status] = int(n)
    last = session.exec(
        select(ProvisioningRun).where(col(ProvisioningRun.school) == dfes,
                                      col(ProvisioningRun.outcome) == "applied")
        .order_by(col(ProvisioningRun.started_at).desc(), col(ProvisioningRun.id).desc())
        .limit(1)).first()
    return SchoolSummary(school=school, operators=ops,
                         users={k: dict(v) for k, v in sorted(counts.items())},
                         last_applied_run=last,
                         last_applied_at=(last.finished_at or last.started_at) if last else None)


def names_in_scope(session: Session, actor: Actor) -> dict[str, tuple[str, str]]:
    """DfES number -> (English name, Welsh name) of every school the actor may see."""
    actor = recheck(session, actor)  # the operator as they are now
    stmt = select(School.dfes, School.name, School.name_cy)
    if actor.schools is not None:
        stmt = stmt.where(col(School.dfes).in_(sorted(actor.schools)))
    return {dfes: (name, name_cy) for dfes, name, name_cy in session.exec(stmt)}
