"""`hwb-tui runs [--json]`: provisioning runs, newest first, within the operator's scope."""

from __future__ import annotations

import argparse

from sqlmodel import col, select

from hwb_tui.commands import Context, print_json
from hwb_tui.commands.table import Table, console, local_time
from hwb_tui.core import records
from hwb_tui.core.models import ProvisioningRun
from hwb_tui.i18n import t


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("runs", help=t("cli.runs.help"), description=t("cli.runs.help"))
    p.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    p.set_defaults(func=run)


record = records.run  # one shape of a run everywhere


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
