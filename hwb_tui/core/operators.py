"""Operator records: adding operators, their scope and their remembered language."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from hwb_tui.core import clock
from hwb_tui.core.access import Actor
from hwb_tui.core.audit import audit
from hwb_tui.core.errors import InvalidValue, NotPermitted, Phrase, UnknownOperator
from hwb_tui.core.models import ROLES, Operator, OperatorSchool
from hwb_tui.core.schools import require_open


def operator_count(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Operator)).one())


def list_operators(session: Session) -> list[tuple[Operator, list[str]]]:
    """Every operator by login, with the schools listed on their record."""
    ops = list(session.exec(select(Operator).order_by(col(Operator.login))).all())
    schools: dict[str, list[str]] = {}
    for link in session.exec(select(OperatorSchool)).all():
        schools.setdefault(link.login, []).append(link.school)
    return [(op, sorted(schools.get(op.login, []))) for op in ops]


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
    if not login or any(ch.isspace() for ch in login):
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
    audit(session, actor.login if actor else login, "operator_add",
          detail={"login": login, "role": role, "schools": sorted(set(schools))})
    return op


def remember_language(session: Session, login: str, language: str) -> None:
    """Save the operator's language choice on their record (Welsh Language Standards)."""
    session.execute(
        update(Operator).where(col(Operator.login) == login).values(language=language)
    )
