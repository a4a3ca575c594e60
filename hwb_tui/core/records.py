"""The one JSON shape of each kind of record, for every command's `--json` (and any report).

One serialiser per kind: an audit event, a user, an operator, a school, a provisioning run or a
housekeeping account prints the same keys whichever command prints it. Values come out as plain
JSON types (timestamps as UTC ISO 8601, dates as YYYY-MM-DD), so a face only dumps them.

How to use from a command: build the dict here, hand it to `commands.print_json` (one document)
or `commands.table.JsonArrayWriter` (a streamed array). A new kind of record gets its serialiser
here, not in the command.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from hwb_tui.core.bulk import Result
from hwb_tui.core.housekeeping import Account
from hwb_tui.core.leaving import ends
from hwb_tui.core.models import AuditEvent, Operator, ProvisioningRun, School, User
from hwb_tui.core.names import display_safe_data
from hwb_tui.core.schools import Entry, RegisterChange, SchoolSummary

# `users list --json` / `--csv`: SPEC §3's list first, then useful extras.
USER_FIELDS = (
    "username", "kind", "surname", "forename", "school", "status", "source", "upn",
    "staff_code", "deactivated_at", "deactivation_reason",
    "deactivated_by", "year_group", "expires_on",
)
# `users show --json` and the result of a change to one user: everything an operator may read.
USER_DETAIL_FIELDS = USER_FIELDS + (
    "reg_group", "admission_number", "admission_date", "leaving_date", "role", "deferred_until",
    "ite_informed_at", "ite_informed_by", "created_at", "updated_at", "purged_at",
)
# `users list --leaving-within`: a listing's fields, then when access ends and why.
LEAVING_FIELDS = USER_FIELDS + ("access_ends_on", "leaving_reason")
# One row of a bulk change (`users deactivate|activate|extend --from-file`), as GAM's action
# CSVs have it: what was asked, what happened, and why not.
BULK_FIELDS = ("line", "username", "action", "outcome", "reason", "message")
# An account housekeeping acted on or reports (`housekeeping --json`): every field it has.
ACCOUNT_FIELDS = tuple(f.name for f in dataclasses.fields(Account))
RUN_COUNTS = ("created", "updated", "moved", "deactivated", "activated", "deferred",
              "not_in_export", "invalid")


def utc(stamp: datetime | None) -> datetime | None:
    """The store hands back naive UTC on SQLite and PostgreSQL alike: make it say so."""
    if stamp is None:
        return None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def jsonable(value: Any) -> Any:
    """A value as JSON holds it: timestamps in UTC to the second, dates as YYYY-MM-DD."""
    if isinstance(value, datetime):
        aware = utc(value)
        assert aware is not None
        return aware.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def stored_json(value: str | None) -> Any:
    """A column stored as JSON text (audit detail, run files) as data; text that is not JSON
    is returned as it is rather than lost."""
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def _plain(record: object, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: jsonable(getattr(record, name)) for name in fields}


def user(u: User, fields: tuple[str, ...] = USER_FIELDS) -> dict[str, Any]:
    """A user: `USER_FIELDS` in listings, `USER_DETAIL_FIELDS` for one user."""
    return _plain(u, fields)


def user_leaving(u: User) -> dict[str, Any]:
    """A user in a "leaving soon" listing: when their access ends and why."""
    data = user(u)
    ending = ends(u)
    data["access_ends_on"] = jsonable(ending.on) if ending else None
    data["leaving_reason"] = str(ending.reason) if ending else None
    return data


def bulk_result(r: Result) -> dict[str, Any]:
    """One row of a bulk change: its line in the file (if any), the user, the outcome and why."""
    return {
        "line": r.target.line,
        "username": r.username,
        "action": str(r.action),
        "outcome": str(r.outcome),
        "reason": str(r.reason) if r.reason else None,
        "message": r.message() or None,
    }


def user_detail(u: User, school: School | None = None,
                audit: Iterable[AuditEvent] | None = None) -> dict[str, Any]:
    """One user with every readable field, the school's names and (when given) its history."""
    data = user(u, USER_DETAIL_FIELDS)
    data["school_name"] = school.name if school else None
    data["school_name_cy"] = school.name_cy if school else None
    if audit is not None:
        data["audit"] = [audit_event(e, u.username) for e in audit]
    return data


def user_change(action: str, u: User) -> dict[str, Any]:
    """The result of one change to one user (`users add|deactivate|activate|extend --json`):
    what was done, and the user as it now is."""
    return {"action": action, "user": user(u, USER_DETAIL_FIELDS)}


def audit_event(event: AuditEvent, username: str | None = None) -> dict[str, Any]:
    """An audit event, the same shape in `audit`, `users show` and every command's result."""
    return {
        "id": event.id,
        "at": jsonable(event.at),
        "actor": event.actor,
        "action": event.action,
        "username": username or None,
        "school": event.school,
        "reason": event.reason,
        "run_id": event.run_id,
        "detail": stored_json(event.detail),
    }


def operator(op: Operator, schools: Iterable[str] = ()) -> dict[str, Any]:
    """An operator: role, scope (all schools, or the schools listed), language, disabled."""
    return {
        "login": op.login,
        "role": op.role,
        "all_schools": op.all_schools,
        "schools": sorted(schools),
        "language": op.language,
        "disabled": op.disabled,
        "created_at": jsonable(op.created_at),
    }


def school(s: School) -> dict[str, Any]:
    """A school of the register."""
    return {
        "dfes": s.dfes,
        "name": s.name,
        "name_cy": s.name_cy,
        "la_number": s.la_number,
        "closed": s.closed_at is not None,
        "closed_at": jsonable(s.closed_at),
        "closed_by": s.closed_by,
    }


def school_summary(info: SchoolSummary) -> dict[str, Any]:
    """`schools show`: the school, its operators, user counts and last successful run."""
    data = school(info.school)
    data["operators"] = [{"login": o.login, "role": o.role, "all_schools": o.all_schools,
                          "disabled": o.disabled} for o in info.operators]
    data["users"] = info.users
    data["last_successful_run"] = (
        {"id": info.last_applied_run.id, "at": jsonable(info.last_applied_at)}
        if info.last_applied_run is not None else None)
    return data


def register_import(file: str, layout: str | None, dry_run: bool,
                    changes: Iterable[tuple[Entry, RegisterChange]]) -> dict[str, Any]:
    """`schools import --json`: per school what the import did (or, dry, would do)."""
    listed = list(changes)
    return {
        "file": file,
        "layout": layout,
        "dry_run": dry_run,
        "counts": {c.value: sum(1 for _, x in listed if x is c) for c in RegisterChange},
        "schools": [{"dfes": e.dfes, "name": e.name, "name_cy": e.name_cy, "where": e.where,
                     "change": c.value} for e, c in listed],
    }


def run(r: ProvisioningRun) -> dict[str, Any]:
    """A provisioning run as recorded (its full report is separate: `run_report`)."""
    data: dict[str, Any] = {
        "id": r.id,
        "started_at": jsonable(r.started_at),
        "finished_at": jsonable(r.finished_at),
        "school": r.school,
        "actor": r.actor,
        "files": stored_json(r.files) or [],
        "sha256": stored_json(r.sha256) or [],
        "format": r.format,
        "as_of": jsonable(r.as_of),
        "dry_run": r.dry_run,
        "outcome": r.outcome,
    }
    data.update({name: getattr(r, name) for name in RUN_COUNTS})
    return data


def run_report(r: ProvisioningRun) -> dict[str, Any]:
    """A run with its stored report (`runs show`)."""
    data = run(r)
    data["report"] = stored_json(r.report)
    return data


def account(a: Account) -> dict[str, Any]:
    """An account housekeeping expired, purged or lists as due for purge."""
    return _plain(a, ACCOUNT_FIELDS)


def document(data: Mapping[str, Any] | list[Any]) -> str:
    """One JSON document, as every `--json` prints it (UTF-8 text, Welsh letters as written)."""
    # every string from the data display-safe: JSON is output too
    return json.dumps(display_safe_data(data), ensure_ascii=False, indent=2, default=jsonable)
