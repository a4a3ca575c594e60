"""`hwb-tui provision`: the provisioning client's command line, a thin face over provisioning."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from hwb_tui import config
from hwb_tui.commands import Context, iso_date, print_json
from hwb_tui.core import clock
from hwb_tui.core.errors import UsageError
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t
from hwb_tui.provisioning import (
    COUNTS,
    STANDARD_FORMATS,
    ProgressEvent,
    ProvisionOptions,
    ProvisionReport,
    SchoolResult,
    inbox,
    profile_names,
    provision,
    report_as_dict,
)

SHOWN_NAMES = 50  # deactivations listed per school before "… and N more"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("provision", help=t("provisioning.cli.help"),
                       description=t("provisioning.cli.help"))
    p.add_argument("files", nargs="*", metavar="FILE", type=Path,
                   help=t("provisioning.cli.opt_files"))
    p.add_argument("--inbox", action="store_true", help=t("provisioning.cli.opt_inbox"))
    p.add_argument("--school", metavar="DFES", help=t("provisioning.cli.opt_school"))
    p.add_argument("--format", default="auto",
                   choices=["auto", *profile_names(), *STANDARD_FORMATS],
                   help=t("provisioning.cli.opt_format"))
    p.add_argument("--as-of", type=iso_date, metavar="YYYY-MM-DD",
                   help=t("provisioning.cli.opt_as_of"))
    p.add_argument("--dry-run", action="store_true", help=t("provisioning.cli.opt_dry_run"))
    p.add_argument("--max-deactivations", type=_count, metavar="N",
                   help=t("provisioning.cli.opt_max"))
    p.add_argument("--force", action="store_true", help=t("provisioning.cli.opt_force"))
    p.add_argument("--skip-invalid", action="store_true",
                   help=t("provisioning.cli.opt_skip_invalid"))
    p.add_argument("--json", action="store_true", help=t("provisioning.cli.opt_json"))
    p.set_defaults(func=run)


def _count(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(t("provisioning.cli.bad_max", value=value))
    return int(value)


def run(args: argparse.Namespace, ctx: Context) -> int:
    options = ProvisionOptions(
        format=args.format,
        as_of=args.as_of,
        dry_run=args.dry_run,
        max_deactivations=args.max_deactivations,
        force=args.force,
        skip_invalid=args.skip_invalid,
        size_limit=config.export_limit(),
    )
    files: list[Path] = list(args.files)
    folder: Path | None = None
    if args.inbox:
        if files:
            raise UsageError(detail=t("provisioning.cli.files_and_inbox"))
        folder = config.inbox_dir()
        files = inbox.waiting(folder)
        if not files:
            # nothing arrived tonight: a success, said once
            if args.json:
                print_json({**report_as_dict(ProvisionReport(
                    as_of=args.as_of or clock.now().date(), dry_run=args.dry_run)),
                    "inbox": str(folder)})
            else:
                print(display_safe(t("provisioning.cli.inbox_empty", inbox=str(folder))))
            return 0
        # what waits in the inbox is read as the console reads it: nothing through a link out
        options = replace(options, inbox=folder)
    store = ctx.store()
    with _progress(quiet_terminal=args.json) as progress:
        report = provision(store, files, args.school, options, progress)
    archived: list[Path] = []
    if folder is not None and not args.dry_run and report.exit_code == 0:
        archived = inbox.archive(files, folder, clock.now().date())
    if args.json:
        data = report_as_dict(report)
        if folder is not None:
            data["inbox"] = str(folder)
            data["archived"] = [str(p) for p in archived]
        print_json(data)
    else:
        _print_report(report)
        if archived:
            print(display_safe(t("provisioning.cli.archived", count=len(archived),
                                 folder=str(archived[0].parent))))
    return report.exit_code


@contextmanager
def _progress(quiet_terminal: bool) -> Iterator[Callable[[ProgressEvent], None]]:
    """A Rich progress bar when stdout is a terminal, plain lines on stderr otherwise."""
    if sys.stdout.isatty() and not quiet_terminal:
        # Rich's progress machinery is loaded only for a terminal (cron runs never need it).
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        # progress by bytes of the files (schools differ in size); the text says which school
        bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                       TimeRemainingColumn(), transient=True)
        task = bar.add_task("", total=None)

        def on_bar(event: ProgressEvent) -> None:
            bar.update(task, total=max(event.bytes_total, 1), completed=event.bytes_done,
                       description=_progress_line(event))

        with bar:
            yield on_bar
        return

    def on_line(event: ProgressEvent) -> None:
        print(_progress_line(event), file=sys.stderr, flush=True)

    yield on_line


def _progress_line(event: ProgressEvent) -> str:
    if event.stage == "apply":
        return t("provisioning.cli.progress_apply", school=event.school, changes=event.changes)
    if event.stage == "done":
        return t("provisioning.cli.progress_done", school=event.school, done=event.schools_done,
                 total=event.schools_total)
    return t(f"provisioning.cli.progress_{event.stage}", school=event.school)


def _print_report(report: ProvisionReport) -> None:
    for school in report.schools:
        _print_school(school)


def _out(text: str, indent: int = 0) -> None:
    # Everything printed passes display_safe: file names and values come from outside.
    print(" " * indent + display_safe(text))


def _print_school(s: SchoolResult) -> None:
    _out(t("provisioning.cli.school_line", school=s.school,
           outcome=t(f"provisioning.outcome.{s.outcome}")))
    if s.message:
        _out(s.message, 2)
    if s.outcome in ("applied", "planned", "held", "blocked") or s.counts["invalid"]:
        _out(t("provisioning.cli.counts", **{k: s.counts[k] for k in COUNTS}), 2)
    for error in s.errors:
        _out(error, 2)
    if s.deactivations:
        key = ("provisioning.cli.deactivated" if s.outcome == "applied"
               else "provisioning.cli.would_deactivate")
        _out(t(key, count=len(s.deactivations)), 2)
        for d in s.deactivations[:SHOWN_NAMES]:
            _out(_deactivation_line(d), 4)
        if len(s.deactivations) > SHOWN_NAMES:
            _out(t("provisioning.cli.more", count=len(s.deactivations) - SHOWN_NAMES), 4)
    if s.held:
        # every held leaver is named: an operator decides on these names
        _out(t("provisioning.cli.held", count=len(s.held)), 2)
        for d in s.held:
            _out(_deactivation_line(d), 4)
    if s.outcome == "planned" and s.limit and s.limit.get("held"):
        _out(t("provisioning.cli.would_block", count=s.limit["deactivations"],
               active=s.limit["active"]), 2)
    if s.not_in_export:
        _out(t("provisioning.cli.not_in_export", count=len(s.not_in_export)), 2)
    for notice in s.notices:
        _out(t(f"provisioning.notice.{notice['what']}", where=notice.get("where") or "-",
               username=notice.get("username") or "-",
               school=notice.get("other_school") or "-"), 2)
    if s.run_id is not None:
        _out(t("provisioning.cli.run_recorded", run_id=s.run_id), 2)


def _deactivation_line(d: dict[str, Any]) -> str:
    parts = [str(d.get("username") or "?"), str(d.get("reason") or "")]
    if d.get("leaving_date"):
        parts.append(str(d["leaving_date"]))
    return "  ".join(parts)
