"""The command line: the console (default) and the headless commands of SPEC §3."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

from hwb_tui import crashlog
from hwb_tui.commands import Context, console
from hwb_tui.core.errors import HwbError
from hwb_tui.core.names import display_safe
from hwb_tui.i18n import install_argparse_translation, language_from_env, set_language, t

# Each command lives in hwb_tui/commands/<name>.py with register(subparsers) and run(args, ctx).
# Modules are imported only to register their parser; none imports Textual at import time.
COMMANDS = ("demo", "provision", "users", "audit", "runs", "operators", "schools",
            "housekeeping", "health")


class HelpFormatter(argparse.HelpFormatter):
    """Help texts come from the catalogue, where "20%" is plain text, not a %-format."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = super()._get_help_string(action)
        return text.replace("%", "%%") if text else text


class ArgumentParser(argparse.ArgumentParser):
    """argparse with usage errors as one line and exit status 2 (SPEC §3)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        # the message may quote what was typed: display-safe, like every line we print
        self.exit(2, f"hwb-tui: {t('cli.usage_error')}: {display_safe(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog="hwb-tui", description=t("cli.description"))
    parser.add_argument("--db", metavar="URL", help=t("cli.opt_db"))
    parser.add_argument("--lang", choices=("en", "cy"), help=t("cli.opt_lang"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMANDS:
        importlib.import_module(f"hwb_tui.commands.{name}").register(sub)
    return parser


def _pre_language(argv: Sequence[str]) -> str | None:
    """--lang read before the parser is built, so that help and errors are in that language."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    set_language(language_from_env(_pre_language(argv)))
    install_argparse_translation()
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = Context(db_url=args.db, lang_explicit=args.lang is not None)
    try:
        if args.command is None:
            return console.run(args, ctx)
        return int(args.func(args, ctx))
    except HwbError as exc:
        print(f"hwb-tui: {display_safe(exc.message())}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"hwb-tui: {t('cli.interrupted')}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `hwb-tui users list | head`: the reader left; say nothing more to a closed pipe
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except Exception as exc:  # noqa: BLE001  (anything else: one line, the details in the log)
        log = crashlog.record(exc)
        print(f"hwb-tui: {display_safe(t('cli.crashed', error=type(exc).__name__, log=str(log)))}",
              file=sys.stderr)
        return crashlog.EXIT_CRASH
    finally:
        ctx.close()
