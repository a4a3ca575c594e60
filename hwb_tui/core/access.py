"""Who the operator is and what they may see and touch."""

from __future__ import annotations

import getpass
import os
import pwd
from dataclasses import dataclass

from sqlalchemy import ColumnElement, true
from sqlmodel import Session, col, select

from hwb_tui.core.errors import NoOperatorsYet, NotPermitted, OperatorDisabled, UnknownOperator
from hwb_tui.core.models import Operator, OperatorSchool, User

PROVISIONING_ACTOR = "provisioning-client"
HOUSEKEEPING_ACTOR = "housekeeping"


@dataclass(frozen=True)
class Actor:
    """An operator as the rules see them: login, role and the schools in scope (None = all)."""

    login: str
    role: str
    schools: frozenset[str] | None
    language: str = "en"

    @property
    def is_admin(self) -> bool:
        return self.role == "hwb-admin"

    def covers(self, school: str) -> bool:
        return self.schools is None or school in self.schools

    def require_school(self, school: str) -> None:
        if not self.covers(school):
            from hwb_tui.i18n import t

            raise NotPermitted(detail=t("permission.school_outside_scope", dfes=school))

    def require_admin(self) -> None:
        if not self.is_admin:
            from hwb_tui.i18n import t

            raise NotPermitted(detail=t("permission.admin_only"))


def system_actor(login: str) -> Actor:
    """The scheduled jobs (provisioning, housekeeping): every school, recorded under `login`."""
    return Actor(login=login, role="system", schools=None)


def current_login() -> str:
    """The operator's login name, from who the operating system says runs us.

    - Over SSH the console runs as the service account through sudo (see deploy/): sudo sets
      SUDO_USER to the operator's own account, and we trust it only when sudo really changed
      our uid (SUDO_UID differs from ours), so a user cannot name someone else by setting it.
    - root may act as any operator with HWB_OPERATOR (tests, maintenance): root owns the data.
    - Otherwise the account of our real uid. Never LOGNAME/USER: any user can set those.
    """
    uid = os.getuid()
    override = os.environ.get("HWB_OPERATOR")
    if override and uid == 0:
        return override
    sudo_user, sudo_uid = os.environ.get("SUDO_USER"), os.environ.get("SUDO_UID")
    if sudo_user and sudo_uid and sudo_uid.isdigit() and int(sudo_uid) != uid:
        return sudo_user
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return getpass.getuser()


def load_actor(session: Session, login: str) -> Actor:
    """The Actor for `login`; an unknown or disabled login is refused."""
    op = session.get(Operator, login)
    if op is None:
        if session.exec(select(Operator.login).limit(1)).first() is None:
            # a new install: nobody to ask, so say what to run first
            raise NoOperatorsYet(login=login)
        raise UnknownOperator(login=login)
    if op.disabled:
        raise OperatorDisabled(login=login)
    schools: frozenset[str] | None
    if op.role == "hwb-admin" and op.all_schools:
        schools = None
    else:
        rows = session.exec(select(OperatorSchool.school).where(OperatorSchool.login == login))
        schools = frozenset(rows.all())
    return Actor(login=op.login, role=op.role, schools=schools, language=op.language)


def recheck(session: Session, actor: Actor) -> Actor:
    """`actor` as the store says now, in this transaction: a console stays open for hours, and an
    operator disabled, or given fewer schools, since it opened is held to that at once."""
    if actor.role == "system":
        return actor  # the scheduled jobs have no operator record
    return load_actor(session, actor.login)


def scope_clause(actor: Actor) -> ColumnElement[bool]:
    """The SQL condition limiting users to the actor's schools."""
    if actor.schools is None:
        return true()
    return col(User.school).in_(sorted(actor.schools))
