"""Leaving soon: when an active account's access will end, and why, so its owner can be told.

Three things end an account that the store already knows of (SPEC §1):
- a summer-rollover leaver (Years 11–13, leaving from 1 June) keeps access until 29 August: the
  planner records that date as `deferred_until`, or, for a leaving date still to come, the same
  rule gives the date here;
- a leaving date an export gave (learners and staff), applied by the first run on or after it;
- a non-MIS account's lifetime (`expires_on`), ended by housekeeping.

The summer-rollover rule lives here (the planner asks `rollover_until`), and the SQL condition
and the per-account answer are two spellings of `ends`, kept equal by a test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_
from sqlmodel import col

from hwb_tui.core.models import ACTIVE, User

ROLLOVER_YEARS = (11, 12, 13)
ROLLOVER_FROM = (6, 1)  # leaving on or after 1 June ...
ROLLOVER_UNTIL = (8, 29)  # ... keeps access until 29 August
MAX_DAYS = 3660  # "leaving within" at most ten years ahead: further is not soon


class LeavingReason(StrEnum):
    """Why an account's access ends."""

    ROLLOVER = "rollover"  # a Year 11–13 leaver's deferred deactivation, on 29 August
    LEAVING_DATE = "leaving-date"  # a leaving date in the school's export
    LIFETIME = "lifetime"  # a non-MIS account's lifetime ends


@dataclass(frozen=True, slots=True)
class Ending:
    """When an account's access ends, and why."""

    on: date
    reason: LeavingReason


def rollover_until(kind: str, year_group: int | None, leaving: date | None) -> date | None:
    """29 August of the leaving year, for a Year 11–13 learner leaving from 1 June; else None."""
    if kind != "learner" or leaving is None or year_group not in ROLLOVER_YEARS:
        return None
    start = date(leaving.year, *ROLLOVER_FROM)
    until = date(leaving.year, *ROLLOVER_UNTIL)
    if start <= leaving < until:
        return until
    return None


def ends(user: User) -> Ending | None:
    """When and why the active `user`'s access ends, if anything says it will."""
    if user.status != ACTIVE:
        return None
    if user.source != "mis":
        return Ending(user.expires_on, LeavingReason.LIFETIME) if user.expires_on else None
    if user.deferred_until is not None:
        return Ending(user.deferred_until, LeavingReason.ROLLOVER)
    if user.leaving_date is None:
        return None
    until = rollover_until(user.kind, user.year_group, user.leaving_date)
    if until is not None:
        return Ending(until, LeavingReason.ROLLOVER)
    return Ending(user.leaving_date, LeavingReason.LEAVING_DATE)


def last_day(today: date, within_days: int) -> date:
    return today + timedelta(days=within_days)


def clause(today: date, within_days: int) -> ColumnElement[bool]:
    """SQL for "`ends(user)` is on or before today + within_days" (past dates included: an
    ending that a run or housekeeping has not yet applied is still to come for its owner)."""
    last = last_day(today, within_days)
    status, source = col(User.status), col(User.source)
    leaving, deferred = col(User.leaving_date), col(User.deferred_until)
    # A leaving date on or before `last` whose rollover date falls after `last` ends later: the
    # only such leaving dates are those of `last`'s own summer, before its 29 August.
    start, until = date(last.year, *ROLLOVER_FROM), date(last.year, *ROLLOVER_UNTIL)
    rolled_past_last: ColumnElement[bool] = false()
    if start <= last < until:
        rolled_past_last = and_(
            col(User.kind) == "learner",
            col(User.year_group).is_not(None),  # so the NOT below is never NOT NULL
            col(User.year_group).in_(ROLLOVER_YEARS),
            leaving >= start,
            leaving < until,
        )
    return and_(
        status == ACTIVE,
        or_(
            and_(source != "mis", col(User.expires_on) <= last),
            and_(source == "mis", deferred <= last),
            and_(source == "mis", deferred.is_(None), leaving <= last, ~rolled_past_last),
        ),
    )
