"""`hwb-tui demo [--users N] [--create-only]`: demo database of Welsh schools; then the console."""

from __future__ import annotations

import argparse
import sys

from hwb_tui import demo
from hwb_tui.commands import Context, console
from hwb_tui.core.access import current_login
from hwb_tui.core.db import shown_url
from hwb_tui.core.errors import DemoWillNotAdmit, NotADemoDatabase
from hwb_tui.i18n import t


def _count(value: str) -> int:
    try:
        n = int(value.replace("_", "").replace(",", ""))
    except ValueError:
        n = -1
    if n < 1:
        raise argparse.ArgumentTypeError(t("cli.demo.bad_count", value=value))
    return n


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help=t("cli.demo.help"), description=t("cli.demo.help"))
    p.add_argument("--users", type=_count, default=demo.DEFAULT_USERS, metavar="N",
                   help=t("cli.demo.opt_users", default=demo.DEFAULT_USERS))
    p.add_argument("--create-only", action="store_true", help=t("cli.demo.opt_create_only"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    url = ctx.url
    login = current_login()
    found = demo.state(url)
    if found == "foreign":
        raise NotADemoDatabase(url=shown_url(url))
    if demo.admission(url, login) == "refused":
        # real operators are there: the demo makes nobody an administrator, and builds nothing
        raise DemoWillNotAdmit(login=login)
    if found in ("missing", "empty"):
        print(t("cli.demo.building", users=f"{args.users:,}", url=shown_url(url)), file=sys.stderr)
        built = demo.build(url, args.users, login)
        print(t("cli.demo.built", users=f"{built.users:,}", schools=f"{built.schools:,}",
                seconds=f"{built.seconds:.1f}", login=login, champion=demo.CHAMPION_LOGIN),
              file=sys.stderr)
    else:
        if demo.ensure_operator(url, login):
            print(t("cli.demo.admitted", login=login), file=sys.stderr)
        print(t("cli.demo.exists", url=shown_url(url)), file=sys.stderr)
    if args.create_only:
        return 0
    return int(console.run(args, ctx))
