"""`hwb-tui runs`: provisioning runs in the operator's scope; `runs show|approve|discard|revert
RUN`: a run's report, a held run's decision, undoing a run. A face: the queries and rules are in
core.runs and provisioning.decide."""

from __future__ import annotations

import argparse
from typing import Any

from hwb_tui.commands import Context, print_json
from hwb_tui.commands.table import Table, console, local_time
from hwb_tui.core import clock
from hwb_tui.core.names import display_safe
from hwb_tui.core.runs import HeldState, get_run, held_state, list_runs, run_record
from hwb_tui.i18n import t
from hwb_tui.provisioning import decide


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("runs", help=t("cli.runs.help"), description=t("cli.runs.help"))
    p.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    p.set_defaults(func=run)
    actions = p.add_subparsers(dest="runs_command", metavar="ACTION",
                               parser_class=type(p))
    show = actions.add_parser("show", help=t("cli.runs.show_help"),
                              description=t("cli.runs.show_help"))
    show.add_argument("run_id", type=int, metavar="RUN")
    show.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    for name in ("approve", "discard"):
        q = actions.add_parser(name, help=t(f"cli.runs.{name}_help"),
                               description=t(f"cli.runs.{name}_help"))
        q.add_argument("run_id", type=int, metavar="RUN")
        q.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    rev = actions.add_parser("revert", help=t("cli.runs.revert_help"),
                             description=t("cli.runs.revert_help"))
    rev.add_argument("run_id", type=int, metavar="RUN")
    rev.add_argument("--dry-run", action="store_true", help=t("cli.runs.opt_dry_run"))
    rev.add_argument("--json", action="store_true", help=t("cli.opt_json"))


def run(args: argparse.Namespace, ctx: Context) -> int:
    command = getattr(args, "runs_command", None)
    if command == "show":
        return _show(args, ctx)
    if command in ("approve", "discard"):
        return _decide(args, ctx, command)
    if command == "revert":
        return _revert(args, ctx)
    return _list(args, ctx)


def _list(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().read() as session:
        runs = list_runs(session, actor)
    now = clock.now()
    if args.json:
        print_json([run_record(r, now) for r in runs])
        return 0
    out = console()
    counts = [t("cli.col.created"), t("cli.col.updated"), t("cli.col.moved"),
              t("cli.col.deactivated"), t("cli.col.activated")]
    table = Table(
        [(t("cli.col.when"), 16), (t("cli.col.school"), 7), (t("cli.col.format"), 23),
         (t("cli.col.outcome"), 20)]
        + [(heading, max(len(heading), 5)) for heading in counts]
        + [(t("cli.col.run"), 0)]
    )
    out.print(table.header())
    table.print(out, (
        [local_time(r.started_at), r.school, r.format, _outcome(r, now),
         r.created, r.updated, r.moved, r.deactivated, r.activated, r.id]
        for r in runs
    ))
    if not runs:
        out.print(t("cli.runs.none"))
    return 0


def _outcome(r: Any, now: Any) -> str:
    state = held_state(r, now)
    if state is None:
        return str(r.outcome)
    return f"{r.outcome}: {'waiting' if state is HeldState.HELD else state}"


def _out(text: str, indent: int = 0) -> None:
    print(" " * indent + display_safe(text))


def _show(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    with ctx.store().read() as session:
        r = get_run(session, actor, args.run_id)
    data = run_record(r, clock.now(), full=True)
    if args.json:
        print_json(data)
        return 0
    _out(t("cli.runs.show_title", id=r.id, school=r.school, outcome=r.outcome,
           when=local_time(r.started_at), actor=r.actor))
    for name, digest in zip(data["files"] or [], data["sha256"] or [], strict=False):
        _out(f"{name}  sha256:{digest}", 2)
    _out(t("provisioning.cli.counts", **{k: data[k] for k in
                                         ("created", "updated", "moved", "deactivated",
                                          "activated", "deferred", "not_in_export",
                                          "invalid")}), 2)
    if data["held_state"]:
        _out(t("cli.runs.held_state", count=data["held"],
               state=t(f"runs.state.{data['held_state']}"),
               until=local_time(r.held_until)), 2)
        for leaver in data["held_leavers"]:
            _out(_leaver_line(leaver), 4)
    report = data.get("report") or {}
    decision = report.get("decision") if isinstance(report, dict) else None
    if decision:
        _out(t("cli.runs.decided", state=t(f"runs.state.{decision['state']}"),
               by=decision["decided_by"], at=local_time(r.decided_at)), 2)
        for skipped in decision.get("skipped", []):
            if skipped.get("why") != "discarded":
                _out(_skipped_line(skipped), 4)
    if r.superseded_by:
        _out(t("cli.runs.superseded_by", run=r.superseded_by), 2)
    if isinstance(report, dict):
        deactivations = report.get("deactivations") or []
        if deactivations:
            _out(t("provisioning.cli.deactivated", count=len(deactivations)), 2)
            for d in deactivations:
                _out(_leaver_line(d), 4)
        if report.get("message"):
            _out(str(report["message"]), 2)
        for error in report.get("errors") or []:
            _out(str(error), 2)
    if r.revert_of:
        _out(t("cli.runs.revert_of", run=r.revert_of), 2)
    return 0


def _leaver_line(d: dict[str, Any]) -> str:
    parts = [str(d.get("username") or "?"), str(d.get("reason") or "")]
    if d.get("leaving_date"):
        parts.append(str(d["leaving_date"]))
    return "  ".join(parts)


def _skipped_line(d: dict[str, Any]) -> str:
    return t("cli.runs.skipped", username=d.get("username") or "?",
             why=t(f"runs.skip.{d.get('why')}"))


def _decide(args: argparse.Namespace, ctx: Context, command: str) -> int:
    actor = ctx.actor()
    with ctx.store().write() as session:
        if command == "approve":
            decision = decide.approve(session, actor, args.run_id)
        else:
            decision = decide.discard(session, actor, args.run_id)
    if args.json:
        print_json(decision.as_dict())
        return 0
    if command == "approve":
        _out(t("cli.runs.approved", run=decision.run_id, count=len(decision.deactivated),
               by=decision.decided_by))
        for d in decision.deactivated:
            _out(_leaver_line(d), 2)
        if decision.skipped:
            _out(t("cli.runs.skipped_title", count=len(decision.skipped)))
            for s in decision.skipped:
                _out(_skipped_line(s), 2)
    else:
        _out(t("cli.runs.discarded", run=decision.run_id, count=len(decision.skipped),
               by=decision.decided_by))
    return 0


def _revert(args: argparse.Namespace, ctx: Context) -> int:
    actor = ctx.actor()
    session_of = ctx.store().read if args.dry_run else ctx.store().write
    with session_of() as session:
        result = decide.revert(session, actor, args.run_id, dry_run=args.dry_run)
    if args.json:
        print_json(result.as_dict())
        return 0
    key = "cli.runs.revert_planned" if args.dry_run else "cli.runs.reverted"
    _out(t(key, run=result.run_id, count=len(result.put_back),
           revert_run=result.revert_run_id or "-"))
    for p in result.put_back:
        _out(f"{p['username']}  {t('runs.put_back.' + p['what'])}", 2)
    if result.left:
        _out(t("cli.runs.not_put_back", count=len(result.left)))
        for entry in result.left:
            _out(t("cli.runs.left_line", username=entry.get("username") or "?",
                   why=t(f"runs.blocker.{entry['why']}"), by=entry.get("by") or "-",
                   action=entry.get("action") or "-", at=entry.get("at") or "-",
                   run=entry.get("later_run") or "-"), 2)
    return 0
