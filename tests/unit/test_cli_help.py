"""Every command's --help prints, in English and in Welsh (catalogue text is never a %-format)."""

from __future__ import annotations

import argparse

import pytest

from hwb_tui.cli import build_parser, main


def _commands() -> list[list[str]]:
    found: list[list[str]] = []

    def walk(parser: argparse.ArgumentParser, path: list[str]) -> None:
        found.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, [*path, name])

    walk(build_parser(), [])
    return found


COMMANDS = _commands()


def test_every_command_is_found() -> None:
    names = {" ".join(c) for c in COMMANDS}
    assert {"provision", "users list", "users extend", "housekeeping", "operators add"} <= names


@pytest.mark.parametrize("lang", ["en", "cy"])
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "hwb-tui")
def test_help_prints(command: list[str], lang: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--lang", lang, *command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert ("usage:" if lang == "en" else "defnydd:") in out
