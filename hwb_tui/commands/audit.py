"""`hwb-tui audit [--since DATE] [--json]`: the append-only audit log, in the operator's scope."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement, or_
from sqlmodel import Session, col, select

from hwb_tui.commands import Context
from hwb_tui.commands.table import JsonArrayWriter, Table, console, local_time
from hwb_tui.core import records
from hwb_tui.core.access import Actor
from hwb_tui.core.models import AuditEvent, User
from hwb_tui.i18n import t

PAGE = 1000


def iso_date(value: str) -> date:
    """An argparse type: YYYY-MM-DD, else a usage error (exit 2)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(t("cli.bad_date", value=value)) from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help=t("cli.audit.help"), description=t("cli.audit.help"))
    p.add_argument("--since", type=iso_date, metavar="DATE", help=t("cli.audit.opt_since"))
    p.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    p.set_defaults(func=run)


def scope(actor: Actor) -> list[ColumnElement[bool]]:
    """A Digital Champion sees the events of their schools; events about no school (operators
    added, for instance) are for Hwb administrators only."""
    if actor.schools is None:
        return []
    in_scope = col(AuditEvent.school).in_(sorted(actor.schools))
    if actor.is_admin:
        return [or_(in_scope, col(AuditEvent.school).is_(None))]
    return [in_scope]


def events(session: Session, actor: Actor, since: date | None) -> Iterator[tuple[AuditEvent, str]]:
    """Every event in scope, oldest first, with the username it concerns; keyset pages on id."""
    conds = scope(actor)
    if since is not None:
        conds.append(col(AuditEvent.at) >= datetime.combine(since, datetime.min.time(), UTC))
    last = 0
    while True:
        stmt = (
            select(AuditEvent, User.username)
            .join(User, col(AuditEvent.user_id) == col(User.id), isouter=True)
            .where(col(AuditEvent.id) > last, *conds)
            .order_by(col(AuditEvent.id))
            .limit(PAGE)
        )
        rows = session.exec(stmt).all()
        for event, username in rows:
            yield event, username or ""
        if len(rows) < PAGE:
            return
        last = rows[-1][0].id or 0
        session.expunge_all()


record = records.audit_event  # one shape of an audit event everywhere


def run(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().read() as session:
        if args.json:
            writer = JsonArrayWriter()
            for event, username in events(session, actor, args.since):
                writer.write(record(event, username))
            writer.close()
            return 0
        out = console()
        table = Table([
            (t("cli.col.when"), 16), (t("cli.col.actor"), 20), (t("cli.col.action"), 14),
            (t("cli.col.username"), 28), (t("cli.col.school"), 7), (t("cli.col.reason"), 0),
        ])
        out.print(table.header())
        batch: list[list[Any]] = []
        for event, username in events(session, actor, args.since):
            batch.append([local_time(event.at), event.actor, event.action, username,
                          event.school or "", event.reason or ""])
            if len(batch) >= PAGE:
                table.print(out, batch)
                batch = []
        table.print(out, batch)
    return 0
