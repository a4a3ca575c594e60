"""Who the operator is and what they may see and touch."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlalchemy import ColumnElement, true
from sqlmodel import Session, col, select

from hwb_tui.config import service_account
from hwb_tui.core import clock
from hwb_tui.core.errors import (
    NoOperatorsYet,
    NotPermitted,
    OperatorDisabled,
    Phrase,
    UnknownAccount,
    UnknownOperator,
)
from hwb_tui.core.models import ACTIVE, DEACTIVATED, Operator, OperatorSchool, Source, User

PROVISIONING_ACTOR = "provisioning-client"
HOUSEKEEPING_ACTOR = "housekeeping"
REACTIVATION_MONTHS = 12  # a deactivated account may be activated again for this long


class Action(StrEnum):
    """What an operator may do by hand to one account: Manage User, `users deactivate|...`."""

    DEACTIVATE = "deactivate"
    ACTIVATE = "activate"
    EXTEND = "extend"


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

    @property
    def only_school(self) -> str:
        """The one school of an operator who has exactly one (a form's default), else ""."""
        if self.schools is not None and len(self.schools) == 1:
            return next(iter(self.schools))
        return ""

    def require_school(self, school: str) -> None:
        if not self.covers(school):
            raise NotPermitted(detail=Phrase("permission.school_outside_scope", dfes=school))

    def require_admin(self) -> None:
        if not self.is_admin:
            raise NotPermitted(detail=Phrase("permission.admin_only"))


def system_actor(login: str) -> Actor:
    """The scheduled jobs (provisioning, housekeeping): every school, recorded under `login`."""
    return Actor(login=login, role="system", schools=None)


def current_login() -> str:
    """The operator's login name, from who the operating system says runs us.

    - The login is the account of the process's real uid; a uid with no account is refused
      (UnknownAccount): there is nobody to act as.
    - Over SSH the console runs as the service account through sudo (see deploy/): sudo sets
      SUDO_USER to the operator's own account. It is believed only when the real uid is the
      configured service account (config `service_account`) and SUDO_USER's account has the uid
      SUDO_UID says: anyone else setting SUDO_* by hand is still themselves.
    - root may act as any operator with HWB_OPERATOR (tests, maintenance): root owns the data.
    - LOGNAME and USER are never read: any user can set those.
    """
    uid = os.getuid()
    try:
        account = pwd.getpwuid(uid).pw_name
    except KeyError:
        raise UnknownAccount(uid=uid) from None
    override = os.environ.get("HWB_OPERATOR")
    if override and uid == 0:
        return override
    sudo_user, sudo_uid = os.environ.get("SUDO_USER"), os.environ.get("SUDO_UID")
    if sudo_user and sudo_uid and sudo_uid.isascii() and sudo_uid.isdigit():
        if account == service_account():
            try:
                claimed = pwd.getpwnam(sudo_user)
            except KeyError:
                claimed = None
            if claimed is not None and claimed.pw_uid == int(sudo_uid):
                return sudo_user
    return account


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
    operator disabled, or given fewer schools, since it opened is held to that at once.

    Every read and write of users calls this first (directory, accounts, provisioning); within
    one session the answer is read once and kept in `session.info`.
    """
    if actor.role == "system":
        return actor  # the scheduled jobs have no operator record
    key = ("hwb_actor", actor.login)
    now = session.info.get(key)
    if now is None:
        now = session.info[key] = load_actor(session, actor.login)
    assert isinstance(now, Actor)
    return now


def scope_clause(actor: Actor) -> ColumnElement[bool]:
    """The SQL condition limiting users to the actor's schools."""
    if actor.schools is None:
        return true()
    return col(User.school).in_(sorted(actor.schools))


def can_activate(user: User, today: date) -> bool:
    """Deactivated, not purged, and no more than 12 months ago (to the day)."""
    if user.status != DEACTIVATED or user.purged_at is not None or user.deactivated_at is None:
        return False
    return today <= clock.add_months(user.deactivated_at.date(), REACTIVATION_MONTHS)


def managed_by_mis(user: User) -> bool:
    """An account the school's MIS starts and ends: nobody changes it by hand."""
    return user.source == Source.MIS


def allowed_actions(user: User, today: date, actor: Actor | None = None) -> list[Action]:
    """What may be done by hand to `user` today (SPEC §2), by `actor` when one is named: the
    Manage User menu offers these, `users show` lists them and a bulk change applies them.
    The write side (core.accounts) holds every change to the same rules when it makes it."""
    if actor is not None and not actor.covers(user.school):
        return []
    if managed_by_mis(user) or user.purged_at is not None:
        return []
    if user.status == ACTIVE:
        return [Action.DEACTIVATE, Action.EXTEND]
    if can_activate(user, today):
        return [Action.ACTIVATE]
    return []


def needs_informed(action: Action, user: User) -> bool:
    """Deactivating an ITE student waits for the operator's word that the student was told
    (SPEC §2): the confirmation asks for it, and core.accounts refuses without it."""
    return action is Action.DEACTIVATE and user.kind == "ite"
