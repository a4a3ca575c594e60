"""Test data built through the core's own rules (names, keys, usernames)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from hwb_tui.core import clock
from hwb_tui.core.access import Actor, load_actor
from hwb_tui.core.accounts import allocate_username, name_fields, username_key_of
from hwb_tui.core.db import Store
from hwb_tui.core.models import ACTIVE, DEACTIVATED, Operator, OperatorSchool, School, User
from hwb_tui.core.names import make_upn


def school(session: Session, dfes: str = "6612001", name: str = "Ysgol Gymraeg Aberystwyth",
           name_cy: str | None = None) -> School:
    s = School(dfes=dfes, name=name, name_cy=name_cy or name, la_number=int(dfes[:3]))
    session.add(s)
    session.flush()
    return s


def user(
    session: Session,
    surname: str,
    forename: str,
    *,
    kind: str = "governor",
    school: str = "6612001",
    status: str = ACTIVE,
    upn: str | None = None,
    staff_code: str | None = None,
    deactivated_at: datetime | None = None,
    expires_on: date | None = None,
    year_group: int | None = None,
) -> User:
    fields = name_fields(surname, forename)
    username = allocate_username(session, fields["surname"], fields["forename"])
    stamp = clock.now()
    mis = kind in ("learner", "staff")
    u = User(
        username=username,
        username_key=username_key_of(username),
        kind=kind,
        source="mis" if mis else "non-mis",
        school=school,
        status=status,
        upn=upn,
        staff_code=staff_code,
        year_group=year_group,
        created_at=stamp,
        updated_at=stamp,
        deactivated_at=deactivated_at or (stamp if status == DEACTIVATED else None),
        deactivated_by="seed" if status == DEACTIVATED else None,
        expires_on=expires_on,
        **fields,
    )
    session.add(u)
    session.flush()
    return u


def operator(session: Session, login: str, role: str = "hwb-admin",
             schools: tuple[str, ...] = (), language: str = "en") -> Operator:
    op = Operator(login=login, role=role, all_schools=role == "hwb-admin" and not schools,
                  language=language, created_at=clock.now())
    session.add(op)
    session.flush()
    for dfes in schools:
        session.add(OperatorSchool(login=login, school=dfes))
    session.flush()
    return op


def actor(store: Store, login: str) -> Actor:
    with store.read() as session:
        return load_actor(session, login)


def learner_upn(dfes: str, serial: int, year: int = 12) -> str:
    return make_upn(int(dfes[:3]), int(dfes[3:]), year, serial)
