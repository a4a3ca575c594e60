"""`hwb-tui operators add|list|disable|enable|schools`: who may use the console, with which role
and schools (the rules are core.operators')."""

from __future__ import annotations

import argparse
from typing import Any

from hwb_tui.commands import Context, print_json
from hwb_tui.commands.table import Table, console
from hwb_tui.core import operators, records
from hwb_tui.core.access import current_login, load_actor
from hwb_tui.core.errors import UsageError
from hwb_tui.core.models import ROLES
from hwb_tui.i18n import LANGUAGES, t


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("operators", help=t("cli.operators.help"),
                       description=t("cli.operators.help"))
    ops = p.add_subparsers(dest="operators_command", metavar="ACTION", required=True)

    add = ops.add_parser("add", help=t("cli.operators.add_help"))
    add.add_argument("login", metavar="LOGIN")
    add.add_argument("--role", choices=ROLES, required=True, help=t("cli.operators.opt_role"))
    add.add_argument("--school", metavar="DFES", action="append", default=[],
                     help=t("cli.operators.opt_school"))
    add.add_argument("--language", choices=LANGUAGES, default="en",
                     help=t("cli.operators.opt_language"))
    add.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    add.set_defaults(func=run_add)

    for action in ("disable", "enable"):
        change = ops.add_parser(action, help=t(f"cli.operators.{action}_help"))
        change.add_argument("login", metavar="LOGIN")
        change.add_argument("--json", action="store_true", help=t("cli.opt_json"))
        change.set_defaults(func=run_disable, disable=action == "disable")

    schools = ops.add_parser("schools", help=t("cli.operators.schools_help"))
    schools.add_argument("login", metavar="LOGIN")
    schools.add_argument("--add", metavar="DFES", nargs="+", default=[],
                         help=t("cli.operators.opt_add"))
    schools.add_argument("--remove", metavar="DFES", nargs="+", default=[],
                         help=t("cli.operators.opt_remove"))
    schools.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    schools.set_defaults(func=run_schools)

    ls = ops.add_parser("list", help=t("cli.operators.list_help"))
    ls.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    ls.set_defaults(func=run_list)


def run(args: argparse.Namespace, ctx: Context) -> int:
    return int(args.func(args, ctx))


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    with ctx.store().write() as session:
        # The very first operator of an empty database needs no operator record to add it;
        # after that, only a Hwb administrator may (checked by the core, in this transaction).
        actor = None
        if operators.operator_count(session) > 0:
            actor = load_actor(session, current_login())
        op = operators.add_operator(session, actor, args.login, args.role, args.school,
                                    language=args.language)
    if args.json:
        print_json(records.operator(op, set(args.school)))
        return 0
    console().print(t("cli.operators.added", login=op.login, role=t(f"role.{op.role}")))
    return 0


def run_disable(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().write() as session:
        changed = operators.set_disabled(session, actor, args.login, args.disable)
        op, schools = operators.operator_with_schools(session, args.login)
    if args.json:
        print_json({**records.operator(op, schools), "changed": changed})
        return 0
    state = "disabled" if args.disable else "enabled"
    key = f"cli.operators.{state}" if changed else f"cli.operators.already_{state}"
    console().print(t(key, login=args.login))
    return 0


def run_schools(args: argparse.Namespace, ctx: Context) -> int:
    if not args.add and not args.remove:
        raise UsageError(detail=t("cli.operators.schools_needs_change"))
    actor = ctx.actor()
    with ctx.store().write() as session:
        now = operators.change_schools(session, actor, args.login, args.add, args.remove)
        op, schools = operators.operator_with_schools(session, args.login)
    if args.json:
        print_json(records.operator(op, schools))
        return 0
    console().print(t("cli.operators.schools_now", login=args.login, schools=" ".join(now)))
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().read() as session:
        rows: list[dict[str, Any]] = [records.operator(op, schools) for op, schools
                                      in operators.list_operators(session, actor)]
    if args.json:
        print_json(rows)
        return 0
    out = console()
    table = Table([(t("cli.col.login"), 20), (t("cli.col.role"), 20), (t("cli.col.language"), 6),
                   (t("cli.col.schools"), 0)])
    out.print(table.header())
    table.print(out, (
        [r["login"], t(f"role.{r['role']}"), r["language"],
         t("cli.operators.all_schools") if r["all_schools"] else " ".join(r["schools"])]
        for r in rows
    ))
    return 0
