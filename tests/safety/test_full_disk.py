"""A full disk mid-run: a provisioning run whose writes fail part-way (a small real filesystem
that fills up, or a file-size limit on the process) changes nothing, exits 4 with one plain
line, and the next run, with room, applies everything."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from hwb_tui.core.db import Store
from tests.safety.conftest import (
    Export,
    big_school,
    check_applied,
    cli,
    demo_store,
    digest,
    provision_args,
    sqlite_integrity,
    write_export,
)

ROOM_LEFT = 256 * 1024  # bytes free on the small filesystem: far less than the run writes


def _failed_plainly(proc: subprocess.Popen[str], *reasons: str) -> None:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 4, (out, err)
    assert "Traceback" not in out + err
    lines = out.splitlines()
    assert len(lines) == 2, out  # "School …: failed" and one line saying why
    assert lines[0].endswith(": failed")
    assert any(r in lines[1] for r in reasons), lines[1]


def _export(store: Store, where: Path) -> Export:
    school, _ = big_school(store)
    return write_export(store, where / f"{school}-learners.csv", school, new=4000, seed=3)


def _applies(store: Store, export: Export) -> None:
    proc = cli(store.url, *provision_args(export))
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, (out, err)
    check_applied(store, export)
    assert sqlite_integrity(store) == "ok"


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs of our own (needs root, or CAP_SYS_ADMIN), unmounted afterwards."""
    if not shutil.which("mount"):
        pytest.skip("no mount command")
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_filesystem_full_mid_run_changes_nothing(small_fs: Path, tmp_path: Path) -> None:
    store = demo_store(f"sqlite:///{small_fs / 'hwb.db'}")
    try:
        export = _export(store, tmp_path)
        before = digest(store)
        # fill the filesystem but for a little room: the run's first pages fit, the rest not
        stat = os.statvfs(small_fs)
        filler = small_fs / "filler"
        filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - ROOM_LEFT))
        _failed_plainly(cli(store.url, *provision_args(export)), "disk is full")
        assert digest(store) == before
        assert sqlite_integrity(store) == "ok"
        filler.unlink()  # room again
        _applies(store, export)
    finally:
        store.dispose()


def _file_size_limit(limit: int) -> None:
    # A real full disk answers ENOSPC with no signal; a file-size limit would send SIGXFSZ,
    # so ignore it and let write() fail instead (Python does this at start-up too).
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.slow
def test_writes_failing_past_a_file_size_limit_change_nothing(tmp_path: Path) -> None:
    store = demo_store(f"sqlite:///{tmp_path / 'hwb.db'}")
    try:
        export = _export(store, tmp_path)
        before = digest(store)
        proc = cli(store.url, *provision_args(export),
                   preexec_fn=lambda: _file_size_limit(512 * 1024))
        _failed_plainly(proc, "disk I/O error", "disk is full")
        assert digest(store) == before
        assert sqlite_integrity(store) == "ok"
        _applies(store, export)
    finally:
        store.dispose()
