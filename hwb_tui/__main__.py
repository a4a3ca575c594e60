"""`python -m hwb_tui` runs the command line."""

from hwb_tui.cli import main

raise SystemExit(main())
