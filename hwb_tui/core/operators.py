"""Operator records: adding, withdrawing and restoring operators, their schools, and their
remembered language.

Who may change an operator: a Hwb administrator (as the store says now, in the transaction), and
only an operator wholly within the administrator's own schools; every change is audited.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from hwb_tui.core import clock
from hwb_tui.core.access import Actor, recheck
from hwb_tui.core.audit import audit
from hwb_tui.core.errors import InvalidValue, NotPermitted, Phrase, UnknownOperator
from hwb_tui.core.models import ROLES, Operator, OperatorSchool
from hwb_tui.core.schools import require_open


class OperatorAction(StrEnum):
    """The audit actions of changes to operator records."""

    ADD = "operator_add"
    DISABLE = "operator_disable"
    ENABLE = "operator_enable"
    SCHOOLS = "operator_schools"


def operator_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Operator)).one())


def list_operators(session: Session, actor: Actor) -> list[tuple[Operator, list[str]]]:
    """The operators a Hwb administrator may see, by login, with their schools.

    An administrator of every school sees every operator. An administrator of listed schools
    sees the operators of those schools, with only those schools, and the administrators of
    every school (whom they would ask); another authority's operators are not theirs to see."""
    actor = recheck(session, actor)
    actor.require_admin()
    ops = list(session.exec(select(Operator).order_by(col(Operator.login))).all())
    schools: dict[str, list[str]] = {}
    for link in session.exec(select(OperatorSchool)).all():
        schools.setdefault(link.login, []).append(link.school)
    seen: list[tuple[Operator, list[str]]] = []
    for op in ops:
        listed = sorted(schools.get(op.login, []))
        if actor.schools is None:
            seen.append((op, listed))
        elif op.role == "hwb-admin" and not listed:
            seen.append((op, []))
        elif mine := [school for school in listed if actor.covers(school)]:
            seen.append((op, mine))
    return seen


def add_operator(
    session: Session,
    actor: Actor | None,
    login: str,
    role: str,
    schools: list[str],
    language: str = "en",
) -> Operator:
    """Add an operator. Needs a Hwb administrator, except for the first operator of a database.

    A Hwb administrator with no schools listed has every school; a Digital Champion needs one.
    """
    first = operator_count(session) == 0
    if not first:
        if actor is None:
            raise UnknownOperator(login="?")
        actor.require_admin()
    if role not in ROLES:
        raise InvalidValue(field="role", reason=Phrase("validation.role", roles=", ".join(ROLES)))
    login = login.strip()
    # a login is shown and compared as typed: no spaces, controls or invisible characters
    if not login or not login.isprintable() or any(ch.isspace() for ch in login):
        raise InvalidValue(field="login", reason=Phrase("validation.login"))
    if session.get(Operator, login) is not None:
        raise InvalidValue(field="login", reason=Phrase("validation.operator_exists", login=login))
    if role == "digital-champion" and not schools:
        raise InvalidValue(field="school", reason=Phrase("validation.champion_needs_school"))
    if actor is not None and actor.schools is not None:
        # A Hwb administrator of listed schools grants only those schools: otherwise they
        # could make an operator (even one for themselves) reaching where they do not.
        if not schools:
            raise NotPermitted(detail=Phrase("permission.all_schools_only"))
        for dfes in schools:
            actor.require_school(dfes)
    for dfes in schools:
        require_open(session, dfes)  # registered, and not closed
    op = Operator(
        login=login,
        role=role,
        all_schools=role == "hwb-admin" and not schools,
        language=language,
        created_at=clock.now(),
    )
    session.add(op)
    session.flush()
    for dfes in sorted(set(schools)):
        session.add(OperatorSchool(login=login, school=dfes))
    audit(session, actor.login if actor else login, OperatorAction.ADD,
          detail={"login": login, "role": role, "schools": sorted(set(schools))})
    return op


def remember_language(session: Session, login: str, language: str) -> None:
    """Save the operator's language choice on their record (Welsh Language Standards)."""
    session.execute(
        update(Operator).where(col(Operator.login) == login).values(language=language)
    )


def _target(session: Session, actor: Actor, login: str) -> tuple[Actor, Operator, list[str]]:
    """The administrator as they are now, and the operator they would change: one wholly
    within the administrator's schools (an operator of every school needs an administrator of
    every school)."""

    actor = recheck(session, actor)
    actor.require_admin()
    op = session.get(Operator, login)
    if op is None:
        raise InvalidValue(field="login", reason=Phrase("validation.no_such_operator", login=login))
    schools = sorted(session.exec(select(OperatorSchool.school)
                                  .where(col(OperatorSchool.login) == login)).all())
    if actor.schools is not None:
        if op.all_schools:
            raise NotPermitted(detail=Phrase("permission.all_schools_only"))
        for dfes in schools:
            actor.require_school(dfes)
    return actor, op, schools


def set_disabled(session: Session, actor: Actor, login: str, disabled: bool) -> bool:
    """Withdraw (`disabled=True`) or restore an operator. False when it already was so (nothing
    changed, nothing audited). An administrator cannot withdraw themselves."""

    actor, op, schools = _target(session, actor, login)
    if disabled and op.login == actor.login:
        raise NotPermitted(detail=Phrase("permission.not_yourself"))
    if op.disabled == disabled:
        return False
    session.execute(update(Operator).where(col(Operator.login) == login)
                    .values(disabled=disabled))
    audit(session, actor.login, OperatorAction.DISABLE if disabled else OperatorAction.ENABLE,
          detail={"login": login, "schools": schools})
    return True


def change_schools(session: Session, actor: Actor, login: str, add: list[str],
                   remove: list[str]) -> list[str]:
    """Give an operator more schools, or fewer; returns their schools now. Every school named
    must be the administrator's; an operator keeps at least one (an operator of every school
    is not given a list)."""

    actor, op, schools = _target(session, actor, login)
    if op.all_schools:
        raise InvalidValue(field="login", reason=Phrase("validation.has_every_school", login=login))
    for dfes in [*add, *remove]:
        actor.require_school(dfes)
    for dfes in add:
        require_open(session, dfes)  # registered, and not closed
    now = sorted((set(schools) | set(add)) - set(remove))
    if not now:
        raise InvalidValue(field="school", reason=Phrase("validation.keeps_a_school", login=login))
    added = sorted(set(now) - set(schools))
    removed = sorted(set(schools) - set(now))
    if not added and not removed:
        return now
    if removed:
        session.execute(delete(OperatorSchool).where(col(OperatorSchool.login) == login,
                                                     col(OperatorSchool.school).in_(removed)))
    for dfes in added:
        session.add(OperatorSchool(login=login, school=dfes))
    session.flush()
    audit(session, actor.login, OperatorAction.SCHOOLS,
          detail={"login": login, "added": added, "removed": removed, "schools": now})
    return now


def operator_with_schools(session: Session, login: str) -> tuple[Operator, list[str]]:
    """An operator's record and the schools listed on it (for a command to report)."""
    op = session.get(Operator, login)
    if op is None:
        raise InvalidValue(field="login", reason=Phrase("validation.no_such_operator", login=login))
    session.refresh(op)
    schools = sorted(session.exec(select(OperatorSchool.school)
                                  .where(col(OperatorSchool.login) == login)).all())
    return op, schools
