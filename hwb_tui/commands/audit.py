"""`hwb-tui audit [--since DATE] [--json]`: the append-only audit log, in the operator's scope."""

from __future__ import annotations

import argparse
from typing import Any

from hwb_tui.commands import Context, iso_date
from hwb_tui.commands.table import JsonArrayWriter, Table, console, local_time
from hwb_tui.core import audit, records
from hwb_tui.i18n import t

PAGE = 1000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("audit", help=t("cli.audit.help"), description=t("cli.audit.help"))
    p.add_argument("--since", type=iso_date, metavar="DATE", help=t("cli.audit.opt_since"))
    p.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    p.set_defaults(func=run)


record = records.audit_event  # one shape of an audit event everywhere


def run(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().read() as session:
        if args.json:
            writer = JsonArrayWriter()
            for event, username in audit.visible_events(session, actor, args.since):
                writer.write(record(event, username))
            writer.close()
            return 0
        out = console()
        table = Table([
            (t("cli.col.when"), 16), (t("cli.col.actor"), 20), (t("cli.col.action"), 16),
            (t("cli.col.username"), 28), (t("cli.col.school"), 7), (t("cli.col.reason"), 0),
        ])
        out.print(table.header())
        batch: list[list[Any]] = []
        for event, username in audit.visible_events(session, actor, args.since):
            batch.append([local_time(event.at), event.actor, event.action, username,
                          event.school or "", event.reason or ""])
            if len(batch) >= PAGE:
                table.print(out, batch)
                batch = []
        table.print(out, batch)
    return 0
