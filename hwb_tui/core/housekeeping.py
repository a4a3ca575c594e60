"""Housekeeping: end non-MIS accounts past their lifetime, find and purge long-deactivated ones.

The rules, to the day (every date is a UTC calendar date, as `accounts.can_activate` uses):

- Expiry: `expires_on` is the last day a non-MIS account may be used. An account whose lifetime
  ends on D is active throughout D and is deactivated by the first housekeeping run on or after
  D+1 (`expires_on < as_of`). The date an operator is shown as "expires" is thus a day they still
  have, the way people read an end date, and the same inclusive reading as the 12-month window.
- Purge: a deactivated account (any kind: learners and staff as well as non-MIS accounts, since
  SPEC §1 sets no exception) may be activated through the day 12 months after its deactivation
  (`can_activate`) and is due for purge from the day after (`add_months(deactivated_at, 12) <
  as_of`). So no account is ever both activatable and due for purge, and none falls between.
- Purge removes personal data and leaves the row, so the audit log (which refers to users by id
  only) still joins: names, their keys, identifiers (UPN, staff code, admission number, ...) go,
  and the username becomes `purged-<id>@hwbcymru.net`, a form no generated username can take
  (generated ones never hold a hyphen).

Each change is a conditional UPDATE (core.versioned): a row changed by an operator since we
read it (extended, deactivated by hand, activated) is left alone, so nothing is recorded twice
and the operator's change wins.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table
from sqlmodel import Session, col, select

from hwb_tui.core import clock
from hwb_tui.core.access import HOUSEKEEPING_ACTOR, REACTIVATION_MONTHS
from hwb_tui.core.accounts import username_key_of
from hwb_tui.core.audit import append, event_row
from hwb_tui.core.models import ACTIVE, DEACTIVATED, User
from hwb_tui.core.names import USERNAME_DOMAIN
from hwb_tui.core.versioned import VersionedUpdate

EXPIRED_REASON = "expired"
# Purged rows keep their place in the directory but sort after every real name ("~" is above
# every letter and digit in both the English and the Welsh sort keys).
PURGED_SORT_KEY = "~"
_USERS: Table = User.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Account:
    """One account housekeeping acted on or reports, as the report shows it."""

    id: int
    username: str
    kind: str
    school: str
    expires_on: date | None
    deactivated_at: datetime | None

    @classmethod
    def of(cls, user: User) -> Account:
        assert user.id is not None
        return cls(user.id, user.username, user.kind, user.school, user.expires_on,
                   user.deactivated_at)


def tombstone_username(user_id: int) -> str:
    return f"purged-{user_id}@{USERNAME_DOMAIN}"


def purge_due(user: User, as_of: date) -> bool:
    """The rule for one user: deactivated, not purged, and its 12-month window closed before
    `as_of` (the complement of `accounts.can_activate` among deactivated, unpurged accounts)."""
    if user.status != DEACTIVATED or user.purged_at is not None or user.deactivated_at is None:
        return False
    return clock.add_months(user.deactivated_at.date(), REACTIVATION_MONTHS) < as_of


def purge_cutoff(as_of: date) -> datetime:
    """The instant before which a deactivation is due for purge on `as_of`.

    add_months clamps month ends (29 Feb + 12 months = 28 Feb), so the cutoff is not simply
    as_of - 12 months: it is the first day whose window is still open on `as_of`, found by
    walking up from a little before (add_months is monotonic, so the walk is a few steps).
    """
    day = clock.add_months(as_of, -REACTIVATION_MONTHS) - timedelta(days=4)
    while clock.add_months(day, REACTIVATION_MONTHS) < as_of:
        day += timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=UTC)


def expired(session: Session, as_of: date) -> list[User]:
    """Active non-MIS accounts whose lifetime ended before `as_of`, oldest expiry first."""
    stmt = (
        select(User)
        .where(col(User.status) == ACTIVE, col(User.source) == "non-mis",
               col(User.expires_on).is_not(None), col(User.expires_on) < as_of,
               col(User.purged_at).is_(None))
        .order_by(col(User.expires_on), col(User.id))
    )
    return list(session.exec(stmt).all())


def expire(session: Session, as_of: date) -> list[Account]:
    """Deactivate every expired non-MIS account, audited, in the caller's one transaction.

    Idempotent: a deactivated account is no longer a candidate, so a second run finds nothing.
    Returns the accounts this run deactivated (not those an operator changed meanwhile).
    """
    stamp = clock.now()
    # The expiry is re-checked in the UPDATE: an extension committed since we read the row
    # changes its version (and its expiry), and then the extension wins.
    writer = _ConditionalUpdate(
        session, ACTIVE,
        ("status", "deactivated_at", "deactivated_by", "deactivation_reason", "updated_at"),
        _USERS.c.expires_on < as_of,
    )
    done: list[Account] = []
    for user in expired(session, as_of):
        values = {"status": DEACTIVATED, "deactivated_at": stamp,
                  "deactivated_by": HOUSEKEEPING_ACTOR, "deactivation_reason": EXPIRED_REASON,
                  "updated_at": stamp}
        detail = {"as_of": as_of.isoformat(), "expires_on": _iso(user.expires_on)}
        if writer.apply(user, values, "deactivate", stamp, reason=EXPIRED_REASON, detail=detail):
            done.append(replace(Account.of(user), deactivated_at=stamp))
    writer.finish()
    return done


def due_for_purge(session: Session, as_of: date, limit: int | None = None) -> list[User]:
    """Deactivated accounts not activated within 12 months, as of `as_of`; oldest first."""
    stmt = (
        select(User)
        .where(col(User.status) == DEACTIVATED, col(User.purged_at).is_(None),
               col(User.deactivated_at).is_not(None),
               col(User.deactivated_at) < purge_cutoff(as_of))
        .order_by(col(User.deactivated_at), col(User.id))
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.exec(stmt).all())


def purge(session: Session, as_of: date, limit: int | None = None) -> list[Account]:
    """Replace the personal data of accounts due for purge with a tombstone, one audit event each.

    `limit` lets a caller purge in several short transactions, so a large purge never holds the
    write lock for long; calling again until it returns nothing finishes the job.
    Returns the purged accounts as they are now (tombstoned usernames: no personal data).
    """
    stamp = clock.now()
    writer = _ConditionalUpdate(
        session, DEACTIVATED, tuple(_PURGED_VALUES) + ("username", "username_key", "purged_at",
                                                       "updated_at"),
        _USERS.c.purged_at.is_(None), _USERS.c.deactivated_at < purge_cutoff(as_of),
    )
    done: list[Account] = []
    for user in due_for_purge(session, as_of, limit):
        assert user.id is not None
        tombstone = tombstone_username(user.id)
        values = {**_PURGED_VALUES, "username": tombstone,
                  "username_key": username_key_of(tombstone), "purged_at": stamp,
                  "updated_at": stamp}
        if writer.apply(user, values, "purge", stamp, detail={"as_of": as_of.isoformat()}):
            done.append(replace(Account.of(user), username=tombstone))
    writer.finish()
    return done


# What a purge leaves in place of personal data (the username is per row: see purge).
_PURGED_VALUES: dict[str, Any] = {
    "surname": "", "forename": "", "surname_key": "", "forename_key": "",
    "sort_en": PURGED_SORT_KEY, "sort_cy": PURGED_SORT_KEY,
    "upn": None, "staff_code": None, "year_group": None, "reg_group": None,
    "admission_number": None, "admission_date": None, "leaving_date": None, "role": None,
}


class _ConditionalUpdate:
    """One conditional UPDATE per account (core.versioned: applied only if the row is as we read
    it, its status included, and still meets `conditions`); the audit events go in at the end
    with one multi-row INSERT.

    Core statements, built once, rather than ORM updates: these runs can touch tens of
    thousands of accounts (a summer's leavers reach the purge window together), and the ORM's
    per-statement work and session synchronisation made that minutes instead of seconds. The
    objects changed are expired at the end, so the session reads them again if asked.
    """

    def __init__(self, session: Session, expected_status: str, columns: tuple[str, ...],
                 *conditions: ColumnElement[bool]) -> None:
        self.session = session
        self.connection = session.connection()
        self.writer = VersionedUpdate(columns, *conditions, status=expected_status)
        self.events: list[dict[str, Any]] = []
        self.changed: list[User] = []

    def apply(self, user: User, values: dict[str, Any], action: str, stamp: datetime, *,
              reason: str | None = None, detail: dict[str, Any] | None = None) -> bool:
        if not self.writer.one(self.connection, user.id, user.version, values):
            return False
        self.events.append(event_row(at=stamp, actor=HOUSEKEEPING_ACTOR, action=action,
                                     user_id=user.id, school=user.school, reason=reason,
                                     detail=detail))
        self.changed.append(user)
        return True

    def finish(self) -> None:
        append(self.session, self.events)
        for user in self.changed:
            self.session.expire(user)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None

