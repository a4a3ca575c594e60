"""`hwb-tui runs [--json]`: provisioning runs, newest first, within the operator's scope."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlmodel import col, select

from hwb_tui.commands import Context, print_json
from hwb_tui.commands.table import Table, console, jsonable, local_time
from hwb_tui.core.models import ProvisioningRun
from hwb_tui.i18n import t

COUNTS = ("created", "updated", "moved", "deactivated", "activated", "deferred",
          "not_in_export", "invalid")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("runs", help=t("cli.runs.help"), description=t("cli.runs.help"))
    p.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    p.set_defaults(func=run)


def _list(value: str | None) -> Any:
    try:
        return json.loads(value) if value else []
    except ValueError:
        return value


def record(r: ProvisioningRun) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": r.id,
        "started_at": jsonable(r.started_at),
        "finished_at": jsonable(r.finished_at),
        "school": r.school,
        "actor": r.actor,
        "files": _list(r.files),
        "sha256": _list(r.sha256),
        "format": r.format,
        "as_of": jsonable(r.as_of),
        "dry_run": r.dry_run,
        "outcome": r.outcome,
    }
    data.update({name: getattr(r, name) for name in COUNTS})
    return data


def run(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    stmt = select(ProvisioningRun).order_by(
        col(ProvisioningRun.started_at).desc(), col(ProvisioningRun.id).desc()
    )
    if actor.schools is not None:
        stmt = stmt.where(col(ProvisioningRun.school).in_(sorted(actor.schools)))
    with ctx.store().read() as session:
        runs = list(session.exec(stmt).all())
    if args.json:
        print_json([record(r) for r in runs])
        return 0
    out = console()
    counts = [t("cli.col.created"), t("cli.col.updated"), t("cli.col.moved"),
              t("cli.col.deactivated"), t("cli.col.activated")]
    table = Table(
        [(t("cli.col.when"), 16), (t("cli.col.school"), 7), (t("cli.col.format"), 23),
         (t("cli.col.outcome"), 8)]
        + [(heading, max(len(heading), 5)) for heading in counts]
        + [(t("cli.col.run"), 0)]
    )
    out.print(table.header())
    table.print(out, (
        [local_time(r.started_at), r.school, r.format, r.outcome,
         r.created, r.updated, r.moved, r.deactivated, r.activated, r.id]
        for r in runs
    ))
    if not runs:
        out.print(t("cli.runs.none"))
    return 0
