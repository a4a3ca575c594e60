"""The health of provisioning, for monitoring (`hwb-tui health`): the checks and their status.

Nagios plugin conventions (any LA's Nagios, Icinga or Zabbix can alert on them): each check is
OK, WARNING, CRITICAL or UNKNOWN; the whole is the worst of them. The checks:

- stale_schools: schools with runs but no successful run for N days (WARNING);
- held_runs: held runs waiting for a decision (WARNING; CRITICAL once one waits over 7 days);
- rejected_runs: runs rejected in the last 24 hours (WARNING);
- not_in_export: a school's latest successful run whose "not in export" count jumped past 10%
  of the school's active MIS accounts (a truncated export; WARNING);
- summer_deferred: learners whose summer-rollover deactivation is still deferred after
  31 August, i.e. no run has applied it (WARNING);
- the database unreachable is UNKNOWN (the command reports it: no check can run).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from hwb_tui.core.access import Actor
from hwb_tui.core.models import ACTIVE, ProvisioningRun, User
from hwb_tui.core.runs import (
    STALE_DAYS,
    SUCCESS,
    Outcome,
    aware,
    stale_schools,
    waiting_runs,
)

HELD_CRITICAL_DAYS = 7  # a held run waiting longer than this is CRITICAL
REJECTED_WINDOW = timedelta(hours=24)
NOT_IN_EXPORT_SHARE = 0.10  # of the school's active MIS accounts


class Status(StrEnum):
    """A Nagios plugin status; `code` is its exit status."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"

    @property
    def code(self) -> int:
        return _CODES[self]


_CODES = {Status.OK: 0, Status.WARNING: 1, Status.CRITICAL: 2, Status.UNKNOWN: 3}


class CheckName(StrEnum):
    STALE_SCHOOLS = "stale_schools"
    HELD_RUNS = "held_runs"
    REJECTED_RUNS = "rejected_runs"
    NOT_IN_EXPORT = "not_in_export"
    SUMMER_DEFERRED = "summer_deferred"
    DATABASE = "database"


@dataclass
class Check:
    name: CheckName
    status: Status
    value: int  # the figure the check counts (also its performance datum)
    detail: list[str] = field(default_factory=list)  # schools, runs … named in the message
    warn: int | None = None  # thresholds as Nagios performance data gives them
    crit: int | None = None


@dataclass
class Health:
    checks: list[Check]
    extra: dict[str, int] = field(default_factory=dict)  # more performance data

    @property
    def status(self) -> Status:
        return max((c.status for c in self.checks), key=lambda s: s.code, default=Status.OK)


def unknown() -> Health:
    """The health when the database cannot be reached: nothing else is known."""
    return Health([Check(CheckName.DATABASE, Status.UNKNOWN, 0)])


def check(session: Session, actor: Actor, now: datetime,
          stale_days: int = STALE_DAYS) -> Health:
    """Every check, within the actor's schools (all schools for the service account)."""
    checks = [Check(CheckName.DATABASE, Status.OK, 1)]
    stale = stale_schools(session, actor, now, stale_days)
    checks.append(Check(CheckName.STALE_SCHOOLS, Status.WARNING if stale else Status.OK,
                        len(stale), stale, warn=1))
    waiting = waiting_runs(session, actor, now)
    oldest = max(((now - aware(r.started_at)).days for r in waiting), default=0)
    status = Status.OK
    if waiting:
        status = Status.CRITICAL if oldest >= HELD_CRITICAL_DAYS else Status.WARNING
    checks.append(Check(CheckName.HELD_RUNS, status, len(waiting),
                        [f"{r.id}/{r.school}" for r in waiting], warn=1))
    rejected = _rejected(session, actor, now)
    checks.append(Check(CheckName.REJECTED_RUNS, Status.WARNING if rejected else Status.OK,
                        len(rejected), rejected, warn=1))
    jumps = _not_in_export_jumps(session, actor)
    checks.append(Check(CheckName.NOT_IN_EXPORT, Status.WARNING if jumps else Status.OK,
                        len(jumps), jumps, warn=1))
    overdue = _summer_overdue(session, actor, now.date())
    checks.append(Check(CheckName.SUMMER_DEFERRED, Status.WARNING if overdue else Status.OK,
                        sum(overdue.values()), sorted(overdue), warn=1))
    return Health(checks, {"held_oldest_days": oldest})


def _runs_in_scope(actor: Actor) -> Any:
    stmt = select(ProvisioningRun).where(col(ProvisioningRun.dry_run).is_(False))
    if actor.schools is not None:
        stmt = stmt.where(col(ProvisioningRun.school).in_(sorted(actor.schools)))
    return stmt


def _rejected(session: Session, actor: Actor, now: datetime) -> list[str]:
    stmt = _runs_in_scope(actor).where(
        col(ProvisioningRun.outcome) == Outcome.REJECTED.value,
        col(ProvisioningRun.started_at) >= now - REJECTED_WINDOW,
    ).order_by(col(ProvisioningRun.id))
    return [f"{r.id}/{r.school}" for r in session.exec(stmt)]


def _not_in_export_jumps(session: Session, actor: Actor) -> list[str]:
    """Schools whose latest successful run reported more accounts "not in export" than the
    run before it, and more than 10% of the school's active MIS accounts."""
    latest = (select(ProvisioningRun.school, func.max(ProvisioningRun.id).label("id"))
              .where(col(ProvisioningRun.outcome).in_([str(o) for o in SUCCESS]),
                     col(ProvisioningRun.dry_run).is_(False),
                     col(ProvisioningRun.revert_of).is_(None))
              .group_by(col(ProvisioningRun.school)))
    if actor.schools is not None:
        latest = latest.where(col(ProvisioningRun.school).in_(sorted(actor.schools)))
    found: list[str] = []
    for school, run_id in session.exec(latest).all():
        run = session.get(ProvisioningRun, run_id)
        if run is None or not run.not_in_export:
            continue
        previous = session.exec(
            select(ProvisioningRun.not_in_export).where(
                col(ProvisioningRun.school) == school, col(ProvisioningRun.id) < run_id,
                col(ProvisioningRun.outcome).in_([str(o) for o in SUCCESS]),
                col(ProvisioningRun.dry_run).is_(False),
                col(ProvisioningRun.revert_of).is_(None))
            .order_by(col(ProvisioningRun.id).desc()).limit(1)).first() or 0
        active = _active_before(run)
        if active is None:
            active = int(session.exec(select(func.count()).select_from(User).where(
                col(User.school) == school, col(User.source) == "mis",
                col(User.status) == ACTIVE)).one())
        if run.not_in_export > previous and run.not_in_export > active * NOT_IN_EXPORT_SHARE:
            found.append(f"{run.id}/{school}")
    return found


def _active_before(run: ProvisioningRun) -> int | None:
    """The school's active MIS accounts before the run, as its report recorded them."""
    try:
        limit = json.loads(run.report or "{}").get("limit") or {}
        return int(limit["active"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _summer_overdue(session: Session, actor: Actor, today: date) -> dict[str, int]:
    """Schools with active learners whose rollover deferral ended before this 31 August has
    passed without a run applying it: deferred until a date before today, and today after the
    31 August of that year."""
    last_august = date(today.year if today > date(today.year, 8, 31) else today.year - 1, 8, 31)
    stmt = (select(User.school, func.count())
            .where(col(User.status) == ACTIVE, col(User.deferred_until).is_not(None),
                   col(User.deferred_until) <= last_august)
            .group_by(col(User.school)))
    if actor.schools is not None:
        stmt = stmt.where(col(User.school).in_(sorted(actor.schools)))
    return {school: int(n) for school, n in session.exec(stmt).all()}


# --- output formats -----------------------------------------------------------------------

def perfdata(health: Health) -> str:
    """Nagios performance data: 'label'=value;warn;crit;min (one space between)."""
    parts = []
    for c in health.checks:
        if c.name is CheckName.DATABASE:
            parts.append(f"database_up={c.value};;;0;1")
            continue
        warn = "" if c.warn is None else str(c.warn)
        crit = "" if c.crit is None else str(c.crit)
        parts.append(f"{c.name}={c.value};{warn};{crit};0")
    for name, value in health.extra.items():
        crit = str(HELD_CRITICAL_DAYS) if name == "held_oldest_days" else ""
        parts.append(f"{name}={value};;{crit};0")
    return " ".join(parts)


def as_dict(health: Health) -> dict[str, Any]:
    return {
        "status": str(health.status),
        "exit_code": health.status.code,
        "checks": [{"name": str(c.name), "status": str(c.status), "value": c.value,
                    "detail": c.detail} for c in health.checks],
        **health.extra,
    }


def prometheus(health: Health) -> str:
    """The same figures in the Prometheus text format, for node_exporter's textfile collector."""
    lines = [
        "# HELP hwb_health_status Overall status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        "# TYPE hwb_health_status gauge",
        f"hwb_health_status {health.status.code}",
        "# HELP hwb_health_check_status Each check's status: 0 OK .. 3 UNKNOWN.",
        "# TYPE hwb_health_check_status gauge",
    ]
    lines += [f'hwb_health_check_status{{check="{c.name}"}} {c.status.code}'
              for c in health.checks]
    lines += ["# HELP hwb_health_check_value The figure each check counts.",
              "# TYPE hwb_health_check_value gauge"]
    lines += [f'hwb_health_check_value{{check="{c.name}"}} {c.value}' for c in health.checks]
    for name, value in health.extra.items():
        lines += [f"# TYPE hwb_{name} gauge", f"hwb_{name} {value}"]
    return "\n".join(lines) + "\n"
