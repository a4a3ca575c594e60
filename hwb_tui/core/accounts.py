"""The write side: add, deactivate, activate, extend, record ITE informed.

Each change is one transaction with its audit event. Races are settled in the database: an
UPDATE only applies while the row is still in the state the operator saw, so when two operators
act at once one wins and the other is told plainly what happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from hwb_tui.core import clock
from hwb_tui.core.access import (
    Action,
    Actor,
    can_activate,
    managed_by_mis,
    needs_informed,
    recheck,
)
from hwb_tui.core.audit import audit as audit  # re-exported: callers import it from here
from hwb_tui.core.audit import last_actor
from hwb_tui.core.directory import get_user
from hwb_tui.core.errors import (
    AccountPurged,
    ActivationWindowPassed,
    AlreadyActive,
    AlreadyDeactivated,
    ChangedMeanwhile,
    InvalidValue,
    ITEMustBeInformed,
    ManagedByMIS,
    Phrase,
)
from hwb_tui.core.models import ACTIVE, DEACTIVATED, NON_MIS_KINDS, User
from hwb_tui.core.names import (
    MAX_TEXT,
    display_safe,
    search_key,
    sort_key,
)
from hwb_tui.core.schools import require_open
from hwb_tui.core.usernames import allocate_username, issued
from hwb_tui.core.versioned import VersionedUpdate

USERNAME_ATTEMPTS = 5
LIFETIMES = ("1m", "3m", "6m", "year")


def name_fields(surname: str, forename: str) -> dict[str, str]:
    """The stored name columns of a person: names cleaned, search and sort keys derived."""
    surname = display_safe(surname).strip()
    forename = display_safe(forename).strip()
    return {
        "surname": surname,
        "forename": forename,
        "surname_key": search_key(surname),
        "forename_key": search_key(forename),
        "sort_en": sort_key(surname, forename, "en"),
        "sort_cy": sort_key(surname, forename, "cy"),
    }


def username_key_of(username: str) -> str:
    return search_key(username.split("@", 1)[0])


def lifetime_end(lifetime: str, today: date) -> date:
    if lifetime == "year":
        return clock.end_of_academic_year(today)
    months = {"1m": 1, "3m": 3, "6m": 6}.get(lifetime)
    if months is None:
        raise InvalidValue(field="lifetime", reason=lifetime)
    return clock.add_months(today, months)


def add_user(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    school: str,
    surname: str,
    forename: str,
    lifetime: str = "year",
    today: date | None = None,
) -> User:
    """Add a non-MIS user (governor, ITE, LA, REC, other) in the actor's scope."""
    if kind not in NON_MIS_KINDS:
        reason = Phrase("validation.kind_not_non_mis", kind=kind, kinds=", ".join(NON_MIS_KINDS))
        raise InvalidValue(field="kind", reason=reason)
    actor = recheck(session, actor)
    actor.require_school(school)
    require_open(session, school)  # registered, and not closed
    fields = name_fields(surname, forename)
    if not fields["surname_key"]:
        raise InvalidValue(field="surname", reason=Phrase("validation.name_required"))
    if not fields["forename_key"]:
        raise InvalidValue(field="forename", reason=Phrase("validation.name_required"))
    for name in ("surname", "forename"):
        if len(fields[name]) > MAX_TEXT:
            raise InvalidValue(field=name, reason=Phrase("validation.too_long", max=MAX_TEXT))
    today = today or clock.now().date()
    stamp = clock.now()
    # Two writers adding the same name take turns (core.usernames); a username someone wrote
    # without taking a turn makes this insert fail on the unique index, and it takes the next.
    for attempt in range(USERNAME_ATTEMPTS):
        username = allocate_username(session, fields["surname"], fields["forename"])
        user = User(
            username=username,
            username_key=username_key_of(username),
            kind=kind,
            source="non-mis",
            school=school,
            status=ACTIVE,
            created_at=stamp,
            updated_at=stamp,
            expires_on=lifetime_end(lifetime, today),
            surname=fields["surname"],
            forename=fields["forename"],
            surname_key=fields["surname_key"],
            forename_key=fields["forename_key"],
            sort_en=fields["sort_en"],
            sort_cy=fields["sort_cy"],
        )
        try:
            with session.begin_nested():
                session.add(user)
                session.flush()
            break
        except IntegrityError:
            if attempt == USERNAME_ATTEMPTS - 1:
                raise
    issued(session, [user.username_key])
    audit(session, actor.login, "add", user, detail={"kind": kind, "lifetime": lifetime})
    return user


@dataclass(frozen=True)
class Change:
    """What a change did, for the screen or the CLI to report."""

    user: User
    action: str


def _bump(session: Session, user: User, expected_status: str, values: dict[str, Any]) -> bool:
    """Apply `values` only if the row is still as we read it; True when we won."""
    writer = VersionedUpdate(values, status=expected_status)
    return writer.one(session.connection(), user.id, user.version, values)


def deactivate(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    reason: str = "manual",
    ite_informed: bool = False,
    expected_version: int | None = None,
) -> Change:
    """Deactivate a non-MIS user by hand. MIS accounts are refused: their MIS ends them."""
    actor, user = _by_hand(session, actor, user_id)
    if user.status == DEACTIVATED:
        raise _already_deactivated(user)
    if needs_informed(Action.DEACTIVATE, user) and not ite_informed:
        raise ITEMustBeInformed()
    _as_seen(session, user, expected_version)
    stamp = clock.now()
    values: dict[str, Any] = {
        "status": DEACTIVATED,
        "deactivated_at": stamp,
        "deactivated_by": actor.login,
        "deactivation_reason": reason,
        "updated_at": stamp,
    }
    if user.kind == "ite":
        values["ite_informed_at"] = stamp
        values["ite_informed_by"] = actor.login
    if not _bump(session, user, ACTIVE, values):
        return _lost_race(session, user)
    if user.kind == "ite":
        audit(session, actor.login, "ite_informed", user, at=stamp)
    audit(session, actor.login, "deactivate", user, reason=reason, at=stamp)
    session.refresh(user)
    return Change(user, "deactivate")


def activate(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    today: date | None = None,
    expected_version: int | None = None,
) -> Change:
    """Activate a deactivated user again, within 12 months of deactivation."""
    actor, user = _by_hand(session, actor, user_id)
    if user.status == ACTIVE:
        raise AlreadyActive(username=user.username)
    today = today or clock.now().date()
    if not can_activate(user, today):
        raise ActivationWindowPassed(username=user.username, at=_when(user.deactivated_at))
    _as_seen(session, user, expected_version)
    stamp = clock.now()
    values: dict[str, Any] = {
        "status": ACTIVE,
        "deactivated_at": None,
        "deactivated_by": None,
        "deactivation_reason": None,
        "updated_at": stamp,
    }
    if user.expires_on is not None and user.expires_on <= today:
        # an account that expired needs a lifetime again, or housekeeping ends it at once
        values["expires_on"] = clock.end_of_academic_year(today)
    if not _bump(session, user, DEACTIVATED, values):
        session.refresh(user)
        if user.status == ACTIVE:
            raise AlreadyActive(username=user.username)
        raise _changed_meanwhile(session, user)
    audit(session, actor.login, "activate", user, at=stamp)
    session.refresh(user)
    return Change(user, "activate")


def extend(
    session: Session,
    actor: Actor,
    user_id: int,
    lifetime: str,
    *,
    today: date | None = None,
    expected_version: int | None = None,
) -> Change:
    """Give an active non-MIS user a new lifetime from today."""
    actor, user = _by_hand(session, actor, user_id)
    if user.status != ACTIVE:
        raise _already_deactivated(user)
    _as_seen(session, user, expected_version)
    today = today or clock.now().date()
    new_end = lifetime_end(lifetime, today)
    stamp = clock.now()
    if not _bump(session, user, ACTIVE, {"expires_on": new_end, "updated_at": stamp}):
        return _lost_race(session, user)
    audit(session, actor.login, "extend", user, at=stamp,
          detail={"lifetime": lifetime, "expires_on": new_end.isoformat()})
    session.refresh(user)
    return Change(user, "extend")


def _by_hand(session: Session, actor: Actor, user_id: int) -> tuple[Actor, User]:
    """The operator as they are now, and the user they act on by hand: in their scope, not
    purged, and never an MIS account (the school's MIS ends those)."""
    actor = recheck(session, actor)
    user = get_user(session, actor, user_id)
    if user.purged_at is not None:
        raise AccountPurged()
    if managed_by_mis(user):
        raise ManagedByMIS()
    return actor, user


def _lost_race(session: Session, user: User) -> Change:
    session.refresh(user)
    if user.status == DEACTIVATED:
        raise _already_deactivated(user)
    raise _changed_meanwhile(session, user)


def _as_seen(session: Session, user: User, expected_version: int | None) -> None:
    """The user is as the operator saw them (the version their screen showed), or another
    operator changed them first and the operator is told who."""
    if expected_version is not None and user.version != expected_version:
        raise _changed_meanwhile(session, user)


def _changed_meanwhile(session: Session, user: User) -> ChangedMeanwhile:
    return ChangedMeanwhile(username=user.username, by=last_actor(session, user.id))


def _already_deactivated(user: User) -> AlreadyDeactivated:
    return AlreadyDeactivated(username=user.username, by=user.deactivated_by or "?",
                              at=_when(user.deactivated_at))


def _when(stamp: datetime | None) -> str:
    return stamp.strftime("%Y-%m-%d %H:%M") if stamp else "?"
