"""The provisioning benchmark's smoke mode runs (so the harness cannot rot); no timing asserted."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_provisioning_bench_smoke(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "provisioning_bench.py"), "--smoke",
         "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    (result,) = tmp_path.glob("provisioning-smoke-*.json")
    data = json.loads(result.read_text())
    assert data["results"]["unchanged_resync"]["rows"] == 20 * 50
    assert data["results"]["resync_5pct_changed"]["counts"]["updated"] > 0
    # the OneRoster set of the same schools: loaded, then unchanged (asserted by the bench)
    assert data["results"]["oneroster_unchanged_resync"]["rows"] > 20 * 50
