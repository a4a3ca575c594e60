"""The performance harness runs end to end on a small directory, so it cannot rot.

It asserts nothing about time: speed is the harness's business, not the test suite's.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_harness_runs_and_writes_its_report(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke",
         "--work", str(tmp_path / "work"), "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    reports = list((tmp_path / "out").glob("bench-smoke-*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    size = report["sizes"][0]
    assert size["users"] == 2000
    assert size["plans_checked"] > 0 and size["full_scans"] == 0
    for side in ("ours", "datatable"):
        assert size[side]["key_ms"]["n"] > 0
        assert size[side]["pagedown_ms"]["n"] > 0
        assert size[side]["peak_rss_mb"] > 0
    assert size["ours"]["startup_ms"] > 0  # the console painted its first page in a real pty
    screen = size["screen"]
    if "skipped" not in screen:  # pyte (the bench extra) read the real console's screen
        assert screen["first_page_ms"] > 0
        assert screen["key_rows"]["n"] > 0 and screen["floor_rows"]["n"] > 0
        assert screen["key_settled"]["n"] == len(screen["ours_run"]["keys"])
        assert screen["pagedown_rows"]["n"] > 0
        assert screen["timed_out"] == 0
        assert "rows-floor p95" in done.stdout
    assert report["provisioning"]["results"]
    assert "key p95" in done.stdout  # the table was printed
