"""`users deactivate|activate|extend --from-file FILE`: a bulk change, one result row per user.

The face reads the options, hands the file's rows to core.bulk, and writes each result as it
comes: CSV by default (GAM's action-CSV style: line, username, action, outcome, reason,
message), or a JSON array. Exit 0 when every row changed (or would, in a dry run), 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hwb_tui.commands import Context
from hwb_tui.commands.table import CsvWriter, JsonArrayWriter
from hwb_tui.core import bulk, records
from hwb_tui.core.errors import UsageError
from hwb_tui.i18n import t
from hwb_tui.provisioning.userlists import read_usernames


def add_options(parser: argparse.ArgumentParser, *, informed: bool = False) -> None:
    """USERNAME becomes optional: --from-file names the users instead."""
    parser.add_argument("--from-file", metavar="FILE", type=Path,
                        help=t("cli.users.opt_from_file"))
    parser.add_argument("--dry-run", action="store_true", help=t("cli.users.opt_bulk_dry_run"))
    parser.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    if informed:
        parser.add_argument("--informed", action="store_true",
                            help=t("cli.users.opt_informed"))


def wanted(args: argparse.Namespace) -> bool:
    """Is this the bulk form? Exactly one of USERNAME and --from-file must be given."""
    if (args.username is None) == (args.from_file is None):
        raise UsageError(detail=t("cli.users.username_or_file"))
    if args.from_file is None and args.dry_run:
        raise UsageError(detail=t("cli.users.dry_run_needs_file"))
    return args.from_file is not None


def run(args: argparse.Namespace, ctx: Context, action: bulk.BulkAction) -> int:
    actor = ctx.actor()
    targets = read_usernames(args.from_file)  # a bad file stops here: nothing changed
    results = bulk.change_many(
        ctx.store(), actor, action, targets, informed=getattr(args, "informed", False),
        lifetime=getattr(args, "lifetime", None), dry_run=args.dry_run)
    done = not_done = 0
    if args.json:
        json_out = JsonArrayWriter()
        try:
            for result in results:
                json_out.write(records.bulk_result(result))
                done, not_done = done + result.done, not_done + (not result.done)
        finally:
            json_out.close()  # an operator refused mid-way still gets valid JSON of the rows done
    else:
        csv_out = CsvWriter(records.BULK_FIELDS)
        for result in results:
            row = records.bulk_result(result)
            csv_out.write(row[name] for name in records.BULK_FIELDS)
            done, not_done = done + result.done, not_done + (not result.done)
    key = "cli.users.bulk_dry_summary" if args.dry_run else "cli.users.bulk_summary"
    print(t(key, changed=done, not_changed=not_done), file=sys.stderr)
    return 0 if not_done == 0 else 1
