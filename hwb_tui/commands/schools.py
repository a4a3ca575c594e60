"""`hwb-tui schools add|import|close|list|show`: the school register, a thin face over the core."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from hwb_tui.commands import Context, print_json
from hwb_tui.commands.table import CsvWriter, Table, console, local_time
from hwb_tui.core import records, schools
from hwb_tui.core.names import display_safe
from hwb_tui.core.schools import RegisterChange
from hwb_tui.i18n import current_language, t
from hwb_tui.provisioning.register import read_register

LIST_FIELDS = ("dfes", "name", "name_cy", "la_number", "closed", "closed_at", "closed_by")


def _la_number(value: str) -> int:
    if not (value.isdigit() and int(value) in schools.LA_NUMBERS):
        raise argparse.ArgumentTypeError(t("validation.la_range", la=value))
    return int(value)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("schools", help=t("schools.help"), description=t("schools.help"))
    ops = p.add_subparsers(dest="schools_command", metavar="ACTION", required=True)

    add = ops.add_parser("add", help=t("schools.add_help"), description=t("schools.add_help"))
    add.add_argument("dfes", metavar="DFES")
    add.add_argument("--name", required=True, metavar="EN", help=t("schools.opt_name"))
    add.add_argument("--name-cy", required=True, metavar="CY", help=t("schools.opt_name_cy"))
    add.add_argument("--la", metavar="N", default="", help=t("schools.opt_la"))
    add.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    add.set_defaults(func=run_add)

    imp = ops.add_parser("import", help=t("schools.import_help"),
                         description=t("schools.import_help"))
    imp.add_argument("file", metavar="FILE", type=Path, help=t("schools.opt_file"))
    imp.add_argument("--dry-run", action="store_true", help=t("schools.opt_dry_run"))
    imp.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    imp.set_defaults(func=run_import)

    close = ops.add_parser("close", help=t("schools.close_help"),
                           description=t("schools.close_help"))
    close.add_argument("dfes", metavar="DFES")
    close.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    close.set_defaults(func=run_close)

    ls = ops.add_parser("list", help=t("schools.list_help"), description=t("schools.list_help"))
    ls.add_argument("--la", type=_la_number, metavar="N", help=t("schools.opt_la_filter"))
    fmt = ls.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    fmt.add_argument("--csv", action="store_true", help=t("cli.opt_csv"))
    ls.set_defaults(func=run_list)

    show = ops.add_parser("show", help=t("schools.show_help"), description=t("schools.show_help"))
    show.add_argument("dfes", metavar="DFES")
    show.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    show.set_defaults(func=run_show)


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().write() as session:
        school = schools.add_school(session, actor, args.dfes, args.name, args.name_cy, args.la)
    if args.json:
        print_json(records.school(school))
        return 0
    console().print(display_safe(t("schools.added", dfes=school.dfes, name=school.name,
                                   name_cy=school.name_cy)))
    return 0


def run_import(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    # the actor may change the register at all: said before the file is read
    schools.require_register_admin(actor)
    register = read_register(args.file)
    shown = display_safe(str(args.file))
    if register.errors:
        for line in register.errors:
            print(display_safe(line), file=sys.stderr)
        if register.layout is not None:
            print(t("schools.import_rejected", file=shown, count=register.invalid_rows),
                  file=sys.stderr)
        return 1
    with ctx.store().write() as session:
        result = schools.import_register(session, actor, register.entries, dry_run=args.dry_run)
    counts = {c.value: result.count(c) for c in RegisterChange}
    if args.json:
        print_json(records.register_import(str(args.file), register.layout, args.dry_run,
                                           result.changes))
        return 0
    out = console()
    said = "schools.change_dry." if args.dry_run else "schools.change."
    for entry, change in result.changes:
        if change is not RegisterChange.UNCHANGED:
            out.print(display_safe(f"  {entry.dfes}  {t(said + change.value)}  {entry.name}"))
    key = "schools.imported_dry" if args.dry_run else "schools.imported"
    out.print(t(key, file=shown, **counts))
    return 0


def run_close(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().write() as session:
        school = schools.close_school(session, actor, args.dfes)
        users = schools.user_count(session, school.dfes)
    if args.json:
        print_json(records.school(school))
        return 0
    console().print(display_safe(t("schools.closed", dfes=school.dfes, name=school.name,
                                   users=users)))
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().read() as session:
        found = schools.list_schools(session, actor, la=args.la)
    if args.json:
        print_json([records.school(s) for s in found])
        return 0
    if args.csv:
        writer = CsvWriter(LIST_FIELDS)
        for s in found:
            data = records.school(s)
            writer.write(data[f] for f in LIST_FIELDS)
        return 0
    out = console()
    table = Table([(t("schools.col.dfes"), 7), (t("schools.col.la"), 3),
                   (t("schools.col.state"), 7), (t("schools.col.name"), 0)])
    out.print(table.header())
    welsh = current_language() == "cy"
    table.print(out, ([s.dfes, s.la_number,
                       t("schools.closed_state") if s.closed_at else t("schools.open"),
                       (s.name_cy if welsh else s.name)] for s in found))
    out.print(t("schools.count", count=len(found)) if found else t("schools.none"))
    return 0


def run_show(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().read() as session:
        info = schools.summary(session, actor, args.dfes)
    if args.json:
        print_json(records.school_summary(info))
        return 0
    s = info.school
    out = console()
    ops = [f"{o.login} ({t('role.' + o.role)})"
           + (f" {t('schools.all_schools')}" if o.all_schools else "")
           + (f" {t('schools.disabled')}" if o.disabled else "")
           for o in info.operators]
    users = [f"{t('kind.' + kind)}: " + ", ".join(
        f"{n} {t('status.' + status)}" for status, n in sorted(by_status.items()))
        for kind, by_status in info.users.items()]
    last = (f"{local_time(info.last_applied_at)} (#{info.last_applied_run.id})"
            if info.last_applied_run else t("schools.no_run"))
    pairs: list[tuple[str, Any]] = [
        (t("schools.col.dfes"), s.dfes),
        (t("schools.col.name"), s.name),
        (t("schools.col.name_cy"), s.name_cy),
        (t("schools.col.la"), s.la_number),
        (t("schools.col.state"), t("schools.open") if s.closed_at is None else
         f"{t('schools.closed_state')} {local_time(s.closed_at)} {s.closed_by or ''}"),
        (t("schools.col.last_run"), last),
    ]
    table = Table([("", 22), ("", 0)])
    table.print(out, ([label + ":", value] for label, value in pairs))
    table.print(out, ([t("schools.col.operators") + ":" if i == 0 else "", line]
                      for i, line in enumerate(ops or ["-"])))
    table.print(out, ([t("schools.col.users") + ":" if i == 0 else "", line]
                      for i, line in enumerate(users or ["0"])))
    return 0
