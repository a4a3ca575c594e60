"""Changes to many users at once: each checked and applied exactly as one by one would be.

The console's marked set and `users deactivate|activate|extend --from-file` both come here. Each
user is its own transaction through core.accounts (the one place the rules of a change live), so
one user who cannot be changed, or who another operator changed first, is reported and the rest
are applied. Only the operator's own standing ends a bulk change early: an operator disabled
meanwhile, or a database that has gone, stops it with the rows done so far kept and reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from sqlmodel import Session

from hwb_tui.core import access, accounts, clock, directory
from hwb_tui.core.access import Action, Actor, allowed_actions, managed_by_mis
from hwb_tui.core.db import Store
from hwb_tui.core.errors import (
    AccountPurged,
    ActivationWindowPassed,
    AlreadyActive,
    AlreadyDeactivated,
    ChangedMeanwhile,
    DatabaseNewer,
    DatabaseUnavailable,
    HwbError,
    ITEMustBeInformed,
    ManagedByMIS,
    NotPermitted,
    OperatorDisabled,
    UnknownOperator,
    UserNotFound,
)
from hwb_tui.core.models import User
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t

# What may be done to a set of users at once: the same actions as to one (core.access).
BulkAction = Action


class Outcome(StrEnum):
    """What happened to one user of a bulk change."""

    CHANGED = "changed"
    WOULD_CHANGE = "would-change"  # a dry run: every check passed, nothing was kept
    NOT_CHANGED = "not-changed"


class Reason(StrEnum):
    """Why one user of a bulk change was not changed."""

    NO_USERNAME = "no-username"
    DUPLICATE = "duplicate"
    NOT_FOUND = "not-found"  # no such user, or not in the operator's schools
    NOT_PERMITTED = "not-permitted"
    MANAGED_BY_MIS = "managed-by-mis"
    ITE_NOT_INFORMED = "ite-not-informed"
    ALREADY_DEACTIVATED = "already-deactivated"
    ALREADY_ACTIVE = "already-active"
    ACTIVATION_WINDOW_PASSED = "activation-window-passed"
    PURGED = "purged"
    CHANGED_MEANWHILE = "changed-meanwhile"
    INVALID = "invalid"


_REASONS: dict[type[HwbError], Reason] = {
    UserNotFound: Reason.NOT_FOUND,
    NotPermitted: Reason.NOT_PERMITTED,
    ManagedByMIS: Reason.MANAGED_BY_MIS,
    ITEMustBeInformed: Reason.ITE_NOT_INFORMED,
    AlreadyDeactivated: Reason.ALREADY_DEACTIVATED,
    AlreadyActive: Reason.ALREADY_ACTIVE,
    ActivationWindowPassed: Reason.ACTIVATION_WINDOW_PASSED,
    AccountPurged: Reason.PURGED,
    ChangedMeanwhile: Reason.CHANGED_MEANWHILE,
}
# Not about one user: these end the whole bulk change (what was done stays done).
_FATAL = (UnknownOperator, OperatorDisabled, DatabaseUnavailable, DatabaseNewer)


@dataclass(frozen=True)
class Target:
    """One user to change: named by a file's row (line, username) or marked in the console
    (user_id, and the version the operator saw)."""

    username: str = ""
    line: int | None = None
    user_id: int | None = None
    version: int | None = None


@dataclass(frozen=True)
class Result:
    """What became of one target."""

    target: Target
    action: BulkAction
    outcome: Outcome
    reason: Reason | None = None
    error: HwbError | None = None
    user: User | None = None
    duplicate_of: int | None = None  # the line this username was first listed on

    @property
    def username(self) -> str:
        return self.user.username if self.user else display_safe(self.target.username)

    @property
    def done(self) -> bool:
        return self.outcome != Outcome.NOT_CHANGED

    def message(self, lang: str | None = None) -> str:
        """Why not, in words (empty when changed)."""
        if self.error is not None:
            return display_safe(self.error.message(lang))
        if self.reason is Reason.DUPLICATE:
            return t("bulk.reason.duplicate", lang, line=self.duplicate_of)
        if self.reason is Reason.NO_USERNAME:
            return t("bulk.reason.no_username", lang)
        return ""


# ---- who can be marked, what a set can have done --------------------------------------------

def markable(actor: Actor, user: User) -> bool:
    """May the operator put `user` in a set to change by hand? Not MIS accounts (their MIS ends
    them), not another school's users, not purged accounts."""
    return not managed_by_mis(user) and actor.covers(user.school) and user.purged_at is None


def applies(action: BulkAction, user: User, today: date) -> bool:
    """Would `action` change `user` (as Manage User would offer it)?"""
    return action in allowed_actions(user, today)


def actions_for(users: Iterable[User], today: date) -> list[BulkAction]:
    """The actions to offer for a marked set: each that would change at least one of them."""
    users = list(users)
    return [a for a in BulkAction if any(applies(a, u, today) for u in users)]


def needs_informed(action: BulkAction, users: Iterable[User], today: date) -> list[User]:
    """The ITE students the operator must have informed before `action` (a deactivation)."""
    return [u for u in users if access.needs_informed(action, u) and applies(action, u, today)]


# ---- applying -----------------------------------------------------------------------------------

class _DryRun(Exception):
    """Raised inside a dry run's transaction so that it rolls back."""


def change_one(
    store: Store,
    actor: Actor,
    action: BulkAction,
    target: Target,
    *,
    informed: bool = False,
    lifetime: str | None = None,
    today: date | None = None,
    dry_run: bool = False,
) -> Result:
    """Change one user in one transaction; a refusal becomes the Result's reason."""
    today = today or clock.now().date()
    outcome = Outcome.WOULD_CHANGE if dry_run else Outcome.CHANGED
    found: list[User] = []
    try:
        with store.write() as session:
            change = _apply(session, actor, action, target, informed, lifetime, today, found)
            if dry_run:
                raise _DryRun()
        return Result(target, action, outcome, user=change.user)
    except _DryRun:
        return Result(target, action, outcome, user=found[0] if found else None)
    except _FATAL:
        raise
    except HwbError as exc:
        reason = next((r for cls, r in _REASONS.items() if isinstance(exc, cls)), Reason.INVALID)
        return Result(target, action, Outcome.NOT_CHANGED, reason, exc,
                      user=found[0] if found else None)


def _apply(session: Session, actor: Actor, action: BulkAction, target: Target,
           informed: bool, lifetime: str | None, today: date,
           found: list[User]) -> accounts.Change:
    if target.user_id is not None:
        user = directory.get_user(session, actor, target.user_id)
    else:
        user = directory.find_username(session, actor, target.username)
    # a copy as the operator saw it: the session's own object expires when a refusal or a dry
    # run rolls back, and the face still needs to name the user
    found.append(User(**user.model_dump()))
    assert user.id is not None
    if action is BulkAction.DEACTIVATE:
        return accounts.deactivate(session, actor, user.id, ite_informed=informed,
                                   expected_version=target.version)
    if action is BulkAction.ACTIVATE:
        return accounts.activate(session, actor, user.id, today=today,
                                 expected_version=target.version)
    return accounts.extend(session, actor, user.id, lifetime or "", today=today,
                           expected_version=target.version)


def change_many(
    store: Store,
    actor: Actor,
    action: BulkAction,
    targets: Iterable[Target],
    *,
    informed: bool = False,
    lifetime: str | None = None,
    today: date | None = None,
    dry_run: bool = False,
) -> Iterator[Result]:
    """Each target in turn, one transaction each, yielded as it is done (a face can report each
    row at once). A username listed twice is changed once; an empty one is reported."""
    if action is BulkAction.EXTEND:
        accounts.lifetime_end(lifetime or "", today or clock.now().date())  # bad lifetime: stop
    seen: dict[str, int | None] = {}
    for target in targets:
        if target.user_id is None:
            name = target.username.strip()
            if not name:
                yield Result(target, action, Outcome.NOT_CHANGED, Reason.NO_USERNAME)
                continue
            key = name.casefold()
            if key in seen:
                yield Result(target, action, Outcome.NOT_CHANGED, Reason.DUPLICATE,
                             duplicate_of=seen[key])
                continue
            seen[key] = target.line
            target = Target(username=name, line=target.line)
        yield change_one(store, actor, action, target, informed=informed, lifetime=lifetime,
                         today=today, dry_run=dry_run)


@dataclass(frozen=True)
class Summary:
    """How a bulk change went, for the face's last line."""

    changed: int
    not_changed: int

    @property
    def all_done(self) -> bool:
        return self.not_changed == 0


def summarise(results: Iterable[Result]) -> Summary:
    results = list(results)
    done = sum(1 for r in results if r.done)
    return Summary(done, len(results) - done)
