"""The headless half never loads Textual: a cron job or a test can import it alone."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_core_provisioning_and_cli_do_not_import_textual() -> None:
    script = textwrap.dedent("""
        import importlib, pkgutil, sys
        import hwb_tui.core
        names = [m.name for m in pkgutil.walk_packages(hwb_tui.core.__path__, "hwb_tui.core.")]
        try:
            import hwb_tui.provisioning
            names += [m.name for m in pkgutil.walk_packages(hwb_tui.provisioning.__path__,
                                                            "hwb_tui.provisioning.")]
        except ModuleNotFoundError:
            pass
        names += ["hwb_tui.cli", "hwb_tui.demo", "hwb_tui.i18n"]
        for name in names:
            importlib.import_module(name)
        import hwb_tui.cli
        hwb_tui.cli.build_parser()  # registers every command: none may load Textual
        assert "hwb_tui.core.accounts" in sys.modules and "sqlalchemy" in sys.modules
        loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
        print(len(names), loaded)
        sys.exit(1 if loaded else 0)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    count = int(done.stdout.split()[0])
    assert count >= 9  # the walk really found the modules


def test_the_check_would_notice_textual() -> None:
    script = "import sys, textual; sys.exit(1 if 'textual' in sys.modules else 0)"
    assert subprocess.run([sys.executable, "-c", script], timeout=60).returncode == 1
