"""Helpers for the provisioning tests: export files in each layout, schools, runs."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hwb_tui.core.db import Store
from hwb_tui.core.models import AuditEvent, ProvisioningRun, User
from hwb_tui.core.names import make_upn
from hwb_tui.provisioning import ProvisionOptions, ProvisionReport, provision
from tests import builders as b

SIMS_LEARNERS = b.SIMS_LEARNERS
SIMS_STAFF = "Staff Code,Legal Surname,Legal Forename,Employment Start,Employment End,SWAC Role"
TC_LEARNERS = ("Pupil UPN,Surname,First Name,Admission No,Admission Date,Leaving Date,"
               "Year Group,Registration Group")
TC_STAFF = "Staff Ref,Surname,First Name,Start Date,Leaving Date,Role"

SCHOOL = "6612001"
OTHER = "6612002"


def upn(serial: int, dfes: str = SCHOOL, year: int = 20) -> str:
    return make_upn(int(dfes[:3]), int(dfes[3:]), year, serial)


def uk(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day else ""


def learner_row(serial: int, surname: str = "", forename: str = "Siân", *,
                leaving: date | None = None, year: int = 9, reg: str = "9A",
                admitted: date | None = date(2022, 9, 1), dfes: str = SCHOOL) -> str:
    surname = surname or f"Llywelyn{serial}"
    return (f"{upn(serial, dfes)},{surname},{forename},A{serial},{uk(admitted)},"
            f"{uk(leaving)},{year},{reg}")


def staff_row(code: str, surname: str = "Jones", forename: str = "Carys", *,
              leaving: date | None = None, role: str = "Teacher") -> str:
    return f"{code},{surname},{forename},01/09/2015,{uk(leaving)},{role}"


def csv_bytes(header: str, rows: Iterable[str], encoding: str = "utf-8",
              bom: bool = False) -> bytes:
    text = "\r\n".join([header, *rows]) + "\r\n"
    data = text.encode(encoding)
    if bom and encoding == "utf-8":
        data = codecs.BOM_UTF8 + data
    return data


@pytest.fixture
def schools(store: Store) -> Store:
    with store.write() as s:
        b.school(s, SCHOOL)
        b.school(s, OTHER, "Ysgol Penweddig")
    return store


@pytest.fixture
def any_schools(any_store: Store) -> Store:
    with any_store.write() as s:
        b.school(s, SCHOOL)
        b.school(s, OTHER, "Ysgol Penweddig")
    return any_store


Writer = Callable[..., Path]


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """write(name, header, rows, encoding=..., bom=...) -> the path of a new export file."""

    def _write(name: str, header: str, rows: Iterable[str], **kw: Any) -> Path:
        path = tmp_path / name
        path.write_bytes(csv_bytes(header, rows, **kw))
        return path

    return _write


def run(store: Store, files: list[Path], school: str | None = SCHOOL,
        as_of: date = date(2026, 11, 30), **options: Any) -> ProvisionReport:
    return provision(store, files, school, ProvisionOptions(as_of=as_of, **options))


def users(store: Store) -> dict[str, User]:
    """Every user by UPN or staff code."""
    with store.read() as s:
        rows = s.execute(select(User)).scalars().all()
    return {(u.upn or f"{u.school}/{u.staff_code}" or u.username): u for u in rows}


def table_dump(store: Store) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every row of the user and audit tables, for before/after comparisons."""
    with store.read() as s:
        u = [tuple(r) for r in s.execute(select(User.__table__).order_by(User.id)).all()]
        a = [tuple(r) for r in s.execute(select(AuditEvent.__table__)
                                         .order_by(AuditEvent.id)).all()]
    return u, a


def runs(store: Store) -> list[ProvisioningRun]:
    with store.read() as s:
        return list(s.execute(select(ProvisioningRun).order_by(ProvisioningRun.id))
                    .scalars().all())
