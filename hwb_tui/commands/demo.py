"""`hwb-tui demo`: placeholder until its owner lands it (see the issue that builds it)."""

from __future__ import annotations

import argparse
import sys

from hwb_tui.commands import Context


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    print("hwb-tui demo: not built yet", file=sys.stderr)
    return 2
