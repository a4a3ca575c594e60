"""`hwb-tui health`: a monitoring check with the Nagios plugin conventions (a face over
core.health): exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the first line
`HWB <STATUS> - <summary> | <performance data>`; `--prometheus FILE` writes the same figures in
node_exporter's textfile format (atomically: a scrape never reads half a file)."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from hwb_tui import config
from hwb_tui.commands import Context, print_json
from hwb_tui.core import clock
from hwb_tui.core import health as core
from hwb_tui.core.access import Actor, current_login, system_actor
from hwb_tui.core.errors import DatabaseUnavailable, HwbError, UsageError
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import t

SHOWN = 5  # schools or runs named per check in the summary line


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("health", help=t("health.help"), description=t("health.help"))
    p.add_argument("--stale-days", type=_days, default=7, metavar="N",
                   help=t("health.opt_stale_days"))
    p.add_argument("--json", action="store_true", help=t("cli.opt_json"))
    p.add_argument("--prometheus", type=Path, metavar="FILE", help=t("health.opt_prometheus"))
    p.set_defaults(func=run)


def _days(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(t("health.bad_days", value=value))
    return int(value)


def _actor(ctx: Context) -> Actor:
    """The service account covers every school; an operator, their own schools."""
    login = current_login()
    if login == config.service_account():
        return system_actor(login)
    return ctx.actor()


def run(args: argparse.Namespace, ctx: Context) -> int:
    reason = ""
    try:
        actor = _actor(ctx)
        with ctx.store().read() as session:
            health = core.check(session, actor, clock.now(), args.stale_days)
    except DatabaseUnavailable as exc:
        health, reason = core.unknown(), exc.message()
    except UsageError:
        raise
    except HwbError as exc:  # an unknown or disabled operator: nothing can be known
        health, reason = core.unknown(), exc.message()
    if args.prometheus is not None:
        write_atomically(args.prometheus, core.prometheus(health))
    if args.json:
        data = core.as_dict(health)
        if reason:
            data["reason"] = reason
        print_json(data)
    else:
        print(display_safe(f"HWB {health.status} - {summary(health, reason)}")
              + f" | {core.perfdata(health)}")
        for check in health.checks:
            if check.status is not core.Status.OK and check.detail:
                print(display_safe(f"{check.name}: {', '.join(check.detail)}"))
    sys.stdout.flush()
    return health.status.code


def summary(health: core.Health, reason: str = "") -> str:
    if reason:
        return t("health.unknown", reason=reason)
    parts = []
    for check in health.checks:
        if check.status is core.Status.OK:
            continue
        shown = ", ".join(check.detail[:SHOWN]) + (" …" if len(check.detail) > SHOWN else "")
        parts.append(t(f"health.check.{check.name}", count=check.value, detail=shown))
    return "; ".join(parts) if parts else t("health.all_ok")


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` by renaming a finished temporary file over it (same folder)."""
    folder = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # node_exporter runs as its own user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
