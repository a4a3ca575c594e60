"""`hwb-tui housekeeping`: the scheduled job that ends lifetimes and lists or purges old accounts.

It runs as the provisioning client's service does, without an operator record: every change is
recorded under `core.access.HOUSEKEEPING_ACTOR`. Expiry is one transaction; a purge runs in
batches, each its own transaction, so the console is never locked out for long and an
interrupted purge is finished by the next run.
"""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from hwb_tui.commands import Context, iso_date, print_json
from hwb_tui.core import clock, housekeeping, records
from hwb_tui.core.errors import UsageError
from hwb_tui.core.housekeeping import Account
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t

PURGE_BATCH = 500  # accounts per purge transaction


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("housekeeping", help=t("housekeeping.help"),
                       description=t("housekeeping.description"))
    p.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD",
                   help=t("housekeeping.opt_as_of"))
    p.add_argument("--purge", action="store_true", help=t("housekeeping.opt_purge"))
    p.add_argument("--json", action="store_true", help=t("housekeeping.opt_json"))
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    as_of: date = args.as_of or clock.now().date()
    if args.purge and as_of > clock.now().date():
        # Expiry can be undone (Activate); a purge cannot, so it never runs ahead of time.
        raise UsageError(detail=t("housekeeping.purge_in_future", as_of=as_of.isoformat()))
    store = ctx.store()
    with store.write() as session:
        expired = housekeeping.expire(session, as_of)
    purged: list[Account] = []
    due: list[Account] = []
    if args.purge:
        while True:
            with store.write() as session:
                batch = housekeeping.purge(session, as_of, limit=PURGE_BATCH)
            purged.extend(batch)
            if len(batch) < PURGE_BATCH:
                break
    else:
        with store.read() as session:
            due = [Account.of(u) for u in housekeeping.due_for_purge(session, as_of)]
    if args.json:
        print_json(_report(as_of, expired, due, purged, args.purge))
    else:
        _print_text(as_of, expired, due, purged, args.purge)
    return 0


_row = records.account  # one shape of an account everywhere


def _report(as_of: date, expired: list[Account], due: list[Account], purged: list[Account],
            purge: bool) -> dict[str, Any]:
    report: dict[str, Any] = {
        "as_of": records.jsonable(as_of),
        "expired": [_row(a) for a in expired],
    }
    if purge:
        report["purged"] = [_row(a) for a in purged]
    else:
        report["due_for_purge"] = [_row(a) for a in due]
    return report


def _line(account: Account, when: str) -> str:
    # Usernames are generated ASCII, but a row edited outside hwb-tui must not reach the terminal
    # with control characters in it.
    return (f"  {display_safe(account.username):<32} {t('kind.' + account.kind):<14} "
            f"{display_safe(account.school):<8} {when}")


def _print_text(as_of: date, expired: list[Account], due: list[Account], purged: list[Account],
                purge: bool) -> None:
    print(t("housekeeping.heading", as_of=as_of.isoformat()))
    print(t("housekeeping.expired", count=len(expired)))
    for a in expired:
        print(_line(a, t("housekeeping.expired_on", day=_day(a.expires_on))))
    if purge:
        print(t("housekeeping.purged", count=len(purged)))
        for a in purged:
            print(_line(a, t("housekeeping.deactivated_on", day=_stamp(a.deactivated_at))))
        return
    print(t("housekeeping.due", count=len(due)))
    for a in due:
        print(_line(a, t("housekeeping.deactivated_on", day=_stamp(a.deactivated_at))))
    if due:
        print(t("housekeeping.purge_hint"))


def _day(day: date | None) -> str:
    return day.isoformat() if day else "?"


def _stamp(stamp: Any) -> str:
    return stamp.strftime("%Y-%m-%d") if stamp else "?"
