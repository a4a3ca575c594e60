"""`hwb-tui users list|show|add|deactivate|activate`: the directory without the console."""

from __future__ import annotations

import argparse
from typing import Any

from hwb_tui.commands import Context, print_json, users_bulk
from hwb_tui.commands.table import (
    CsvWriter,
    JsonArrayWriter,
    Table,
    console,
    local_time,
)
from hwb_tui.core import accounts, clock, directory, leaving, records
from hwb_tui.core.access import Action, Actor, allowed_actions
from hwb_tui.core.models import KINDS, NON_MIS_KINDS, User
from hwb_tui.i18n import current_language, t

# The fields of `users list --json` / `--csv` (the serialiser is core.records)
LIST_FIELDS = records.USER_FIELDS
PAGE = 1000  # rows per keyset page while streaming a listing


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("users", help=t("cli.users.help"), description=t("cli.users.help"))
    users = p.add_subparsers(dest="users_command", metavar="ACTION", required=True)

    ls = users.add_parser("list", help=t("cli.users.list_help"))
    ls.add_argument("--kind", choices=KINDS, help=t("cli.users.opt_kind"))
    state = ls.add_mutually_exclusive_group()
    state.add_argument("--status", choices=("active", "deactivated", "all", "expiring"),
                       default="all", help=t("cli.users.opt_status"))
    state.add_argument("--leaving-within", type=_days, metavar="DAYS",
                       help=t("cli.users.opt_leaving_within"))
    ls.add_argument("--school", metavar="DFES", help=t("cli.users.opt_school"))
    ls.add_argument("--search", metavar="TERM", default="", help=t("cli.users.opt_search"))
    fmt = ls.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    fmt.add_argument("--csv", action="store_true", help=t("cli.opt_csv"))
    ls.set_defaults(func=run_list)

    show = users.add_parser("show", help=t("cli.users.show_help"))
    show.add_argument("username", metavar="USERNAME")
    show.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    show.set_defaults(func=run_show)

    add = users.add_parser("add", help=t("cli.users.add_help"))
    add.add_argument("--kind", choices=NON_MIS_KINDS, required=True, help=t("cli.users.opt_kind"))
    add.add_argument("--school", metavar="DFES", required=True, help=t("cli.users.opt_school"))
    add.add_argument("--surname", required=True, help=t("cli.users.opt_surname"))
    add.add_argument("--forename", required=True, help=t("cli.users.opt_forename"))
    add.add_argument("--lifetime", choices=accounts.LIFETIMES, default="year",
                     help=t("cli.users.opt_lifetime"))
    add.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    add.set_defaults(func=run_add)

    deact = users.add_parser("deactivate", help=t("cli.users.deactivate_help"))
    deact.add_argument("username", metavar="USERNAME", nargs="?")
    users_bulk.add_options(deact, informed=True)
    deact.set_defaults(func=run_deactivate)

    act = users.add_parser("activate", help=t("cli.users.activate_help"))
    act.add_argument("username", metavar="USERNAME", nargs="?")
    users_bulk.add_options(act)
    act.set_defaults(func=run_activate)

    ext = users.add_parser("extend", help=t("cli.users.extend_help"))
    ext.add_argument("username", metavar="USERNAME", nargs="?")
    ext.add_argument("--lifetime", choices=accounts.LIFETIMES, required=True,
                     help=t("cli.users.opt_lifetime"))
    users_bulk.add_options(ext)
    ext.set_defaults(func=run_extend)


def run(args: argparse.Namespace, ctx: Context) -> int:
    return int(args.func(args, ctx))


def _days(value: str) -> int:
    if not value.isdigit() or int(value) > leaving.MAX_DAYS:
        raise argparse.ArgumentTypeError(
            t("cli.users.bad_days", value=value, max=leaving.MAX_DAYS))
    return int(value)


def _who_columns() -> list[tuple[str, int]]:
    """The columns that say who a listed user is, first in every listing."""
    return [(t("cli.col.username"), 28), (t("cli.col.name"), 30), (t("cli.col.kind"), 9),
            (t("cli.col.school"), 7)]


def _who(user: User) -> list[Any]:
    return [user.username, f"{user.surname}, {user.forename}", user.kind, user.school]


def _list_table() -> Table:
    return Table(_who_columns() + [(t("cli.col.status"), 11), (t("cli.col.id"), 13)])


def _list_row(user: User) -> list[Any]:
    return _who(user) + [user.status, user.upn or user.staff_code or ""]


def _leaving_table() -> Table:
    return Table(_who_columns() + [(t("cli.col.access_ends"), 10),
                                   (t("cli.col.leaving_reason"), 0)])


def _leaving_row(user: User) -> list[Any]:
    ending = leaving.ends(user)
    return _who(user) + [ending.on.isoformat() if ending else "",
                         t(f"leaving.reason.{ending.reason}") if ending else ""]


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    if args.school:
        actor.require_school(args.school)
    leaving_soon = args.leaving_within is not None
    q = directory.Query(
        kind=args.kind,
        status="leaving" if leaving_soon else args.status,
        within_days=args.leaving_within or 0,
        today=clock.now().date(),
        search=args.search,
        school=args.school,
        language=current_language(),
    )
    _stream_list(args, ctx, actor, q)  # `| head`: cli.main says nothing more to the pipe
    return 0


def _stream_list(args: argparse.Namespace, ctx: Context, actor: Actor,
                 q: directory.Query) -> None:
    leaving_soon = q.status == "leaving"
    with ctx.store().read() as session:
        if args.json:
            writer = JsonArrayWriter()
            serialise = records.user_leaving if leaving_soon else records.user
            for batch in directory.every_page(session, actor, q, PAGE):
                for user in batch:
                    writer.write(serialise(user))
            writer.close()
        elif args.csv and leaving_soon:
            csv_out = CsvWriter(records.LEAVING_FIELDS)
            for batch in directory.every_page(session, actor, q, PAGE):
                for user in batch:
                    row = records.user_leaving(user)
                    csv_out.write(row[name] for name in records.LEAVING_FIELDS)
        elif args.csv:
            csv_out = CsvWriter(LIST_FIELDS)
            for batch in directory.every_page(session, actor, q, PAGE):
                for user in batch:
                    csv_out.write(getattr(user, name) for name in LIST_FIELDS)
        else:
            out = console()
            table = _leaving_table() if leaving_soon else _list_table()
            row_of = _leaving_row if leaving_soon else _list_row
            out.print(table.header())
            shown = 0
            for batch in directory.every_page(session, actor, q, PAGE):
                table.print(out, (row_of(u) for u in batch))
                shown += len(batch)
            out.print(t("cli.users.count", count=shown))


def run_show(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().read() as session:
        user = directory.find_username(session, actor, args.username)
        events = directory.history(session, user)
        school = directory.school_of(session, user)
    if args.json:
        print_json(records.user_detail(user, school, events))
        return 0
    out = console()
    lang = current_language()
    school_name = (school.name_cy if lang == "cy" else school.name) if school else ""
    status = t("status.active") if user.status == "active" else t("status.deactivated")
    pairs: list[tuple[str, Any]] = [
        (t("cli.col.username"), user.username),
        (t("cli.col.name"), f"{user.forename} {user.surname}"),
        (t("cli.col.kind"), t(f"kind.{user.kind}")),
        (t("cli.col.school"), f"{user.school} {school_name}"),
        (t("cli.col.status"), status),
        (t("cli.col.source"), t(f"source.{user.source}")),
        (t("cli.col.may"), ", ".join(t(f"action.{a}") for a in
                                     allowed_actions(user, clock.now().date(), actor))),
        (t("cli.col.upn"), user.upn),
        (t("cli.col.staff_code"), user.staff_code),
        (t("cli.col.year_group"), user.year_group),
        (t("cli.col.expires_on"), user.expires_on),
        (t("cli.col.deactivated_at"), local_time(user.deactivated_at)),
        (t("cli.col.deactivated_by"), user.deactivated_by),
        (t("cli.col.reason"), user.deactivation_reason),
        (t("cli.col.ite_informed"), " ".join(
            x for x in (local_time(user.ite_informed_at), user.ite_informed_by or "") if x)),
    ]
    details = Table([("", 20), ("", 0)])
    details.print(out, ([label + ":", value] for label, value in pairs
                        if value not in (None, "")))
    out.print()
    out.print(t("cli.users.history"), style="bold")
    events_table = Table([
        (t("cli.col.when"), 16), (t("cli.col.actor"), 20), (t("cli.col.action"), 14),
        (t("cli.col.reason"), 0),
    ])
    if events:
        out.print(events_table.header())
        events_table.print(out, ([local_time(e.at), e.actor, e.action, e.reason or ""]
                                 for e in events))
    else:
        out.print(t("cli.users.no_history"))
    return 0


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().write() as session:
        user = accounts.add_user(
            session, actor, kind=args.kind, school=args.school, surname=args.surname,
            forename=args.forename, lifetime=args.lifetime,
        )
    if args.json:
        print_json(records.user_change("add", user))
        return 0
    console().print(t("cli.users.added", username=user.username,
                      expires=user.expires_on.isoformat() if user.expires_on else ""))
    return 0


def run_deactivate(args: argparse.Namespace, ctx: Context) -> int:
    return _change(args, ctx, Action.DEACTIVATE)


def run_activate(args: argparse.Namespace, ctx: Context) -> int:
    return _change(args, ctx, Action.ACTIVATE)


def run_extend(args: argparse.Namespace, ctx: Context) -> int:
    return _change(args, ctx, Action.EXTEND)


_DONE = {Action.DEACTIVATE: "cli.users.deactivated", Action.ACTIVATE: "cli.users.activated",
         Action.EXTEND: "cli.users.extended"}


def _change(args: argparse.Namespace, ctx: Context, action: Action) -> int:
    """One user by username (or, with --from-file, many: users_bulk), changed by hand."""
    if users_bulk.wanted(args):
        return users_bulk.run(args, ctx, action)
    actor = ctx.actor()
    with ctx.store().write() as session:
        user_id = directory.find_username(session, actor, args.username).id or 0
        if action is Action.DEACTIVATE:
            change = accounts.deactivate(session, actor, user_id, ite_informed=args.informed)
        elif action is Action.ACTIVATE:
            change = accounts.activate(session, actor, user_id)
        else:
            change = accounts.extend(session, actor, user_id, args.lifetime)
    if args.json:
        print_json(records.user_change(change.action, change.user))
        return 0
    expires = change.user.expires_on.isoformat() if change.user.expires_on else ""
    console().print(t(_DONE[action], username=change.user.username, expires=expires))
    return 0
