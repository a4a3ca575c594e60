"""Test data built through the core's own rules (names, keys, usernames)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from hwb_tui.cli import main
from hwb_tui.core import access, clock
from hwb_tui.core.access import Actor, load_actor
from hwb_tui.core.accounts import allocate_username, name_fields, username_key_of
from hwb_tui.core.db import Store
from hwb_tui.core.models import ACTIVE, DEACTIVATED, Operator, OperatorSchool, School, User
from hwb_tui.core.names import make_upn
from hwb_tui.i18n import set_language

SIMS_LEARNERS = ("UPN,Legal Surname,Legal Forename,Admission Number,Date of Admission,"
                 "Date of Leaving,Year,Reg")


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


def two_schools(session: Session, home: str = "6612001", away: str = "6612002") -> None:
    """Two schools, an administrator `admin`, and a Digital Champion `champion` of `home`."""
    school(session, home)
    school(session, away, "Ysgol y Graig")
    operator(session, "admin")
    operator(session, "champion", role="digital-champion", schools=(home,))


def sims_learners(path: Path, rows: Iterable[str]) -> Path:
    """A SIMS learners export at `path`: the header, then `rows` as written."""
    path.write_text("\n".join([SIMS_LEARNERS, *rows]) + "\n", encoding="utf-8")
    return path


# ---- the CLI, run in this process ----------------------------------------------------------

def cli_env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """The CLI's environment in a test: `url` as the database, no HWB_LANG, and root's uid
    (HWB_OPERATOR is honoured for root only, core.access: act as root would)."""
    monkeypatch.setenv("HWB_DATABASE_URL", url)
    monkeypatch.delenv("HWB_LANG", raising=False)
    if os.getuid() != 0:
        monkeypatch.setattr(access.os, "getuid", lambda: 0)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str, login: str | None = None,
            monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    """`hwb-tui ARGS...` (as `login`, when given): exit status, stdout, stderr. A usage error
    is its exit status; the language is English again afterwards."""
    if login is not None:
        assert monkeypatch is not None, "a login is set through monkeypatch"
        monkeypatch.setenv("HWB_OPERATOR", login)
    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    set_language("en")
    return code, out, err
