"""Files an operator names: only regular files, up to a size limit, and from the console only
inside the inbox folder. Devices, /proc, links out of the inbox, folders, FIFOs and oversized
files are refused in one line without being read (memory stays flat)."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest
from sqlmodel import select

from hwb_tui.core.db import Store
from hwb_tui.core.errors import ExportRefused
from hwb_tui.core.models import ProvisioningRun, User
from hwb_tui.provisioning import ProvisionOptions, provision
from hwb_tui.provisioning.export_files import (
    MIB,
    RefusedFile,
    check_export,
    export_rules,
    open_export,
)
from hwb_tui.tui.app import HwbApp
from tests import builders as b
from tests.tui.console import SIZE, open_export_dialog, press_apply, preview, settle, summary

HOME = "6612001"


def export(path: Path) -> Path:
    return b.sims_learners(path, [f"{b.learner_upn(HOME, 7)},Gruffydd,Elin,7,01/09/2021,,8,8G"])


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    return export(tmp_path / f"{HOME}-learners.csv")


def hostile(kind: str, inbox: Path, outside: Path) -> Path:
    """A name of each kind that must be refused, as typed into the console."""
    if kind == "/dev/zero":
        return Path("/dev/zero")
    if kind == "/proc/self/environ":
        return Path("/proc/self/environ")
    if kind == "link out":
        link = inbox / f"{HOME}-linked.csv"
        link.symlink_to(outside)
        return Path(link.name)
    if kind == "folder":
        (inbox / "folder").mkdir()
        return Path("folder")
    if kind == "65 MiB":
        big = inbox / f"{HOME}-big.csv"
        with big.open("wb") as fh:
            fh.truncate(65 * MIB)  # sparse: the size is what fstat says, no disk is used
        return Path(big.name)
    if kind == "fifo":
        os.mkfifo(inbox / f"{HOME}-fifo.csv")
        return Path(f"{HOME}-fifo.csv")
    if kind == "dot-dot":
        return Path("..") / outside.name
    raise AssertionError(kind)


KINDS = ("/dev/zero", "/proc/self/environ", "link out", "folder", "65 MiB", "fifo", "dot-dot")
WHY = {"/dev/zero": "not in the inbox", "/proc/self/environ": "not in the inbox",
       "link out": "not in the inbox", "folder": "a folder", "65 MiB": "larger than",
       "fifo": "not a regular file", "dot-dot": "not in the inbox"}


@pytest.mark.parametrize("kind", KINDS)
def test_the_inbox_refuses_each_hostile_name_without_reading_it(
        kind: str, inbox: Path, outside: Path) -> None:
    name = hostile(kind, inbox, outside)
    tracemalloc.start()
    try:
        with pytest.raises(ExportRefused) as refused:
            check_export(name, inbox=inbox)
        with pytest.raises(RefusedFile), export_rules(inbox=inbox):
            open_export(name if name.is_absolute() else inbox / name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MIB, peak  # nothing was read into memory
    line = refused.value.message()
    assert "\n" not in line and WHY[kind] in line, line


def test_a_regular_file_in_the_inbox_is_read(inbox: Path) -> None:
    path = export(inbox / f"{HOME}-learners.csv")
    assert check_export(Path(path.name), inbox=inbox) == inbox / path.name
    with export_rules(inbox=inbox):
        assert open_export(inbox / path.name) == path.read_bytes()
    # a link inside the inbox to a file inside the inbox is that file
    (inbox / "latest.csv").symlink_to(path.name)
    assert check_export(Path("latest.csv"), inbox=inbox)


def champions_console(store: Store, inbox: Path) -> HwbApp:
    """The console of a Digital Champion of HOME whose exports arrive in `inbox`."""
    with store.write() as s:
        b.school(s, HOME)
        b.operator(s, "champ", role="digital-champion", schools=(HOME,))
    return HwbApp(store, b.actor(store, "champ"), inbox=inbox)


@pytest.mark.parametrize("kind", ["/dev/zero", "/proc/self/environ", "folder", "65 MiB", "fifo"])
def test_headless_provision_applies_the_regular_file_and_size_checks(
        kind: str, store: Store, inbox: Path, outside: Path) -> None:
    """No inbox for the scheduled job, but only regular files up to the limit are read."""
    with store.write() as s:
        b.school(s, HOME)
    name = hostile(kind, inbox, outside)
    path = name if name.is_absolute() else inbox / name
    report = provision(store, [path], HOME, ProvisionOptions())
    (school,) = report.schools
    assert school.outcome == "rejected" and report.exit_code == 1
    assert len(school.errors) == 1, school.errors
    why = {"/dev/zero": "not a regular file", "/proc/self/environ": "its size changed",
           "folder": "users.csv", "65 MiB": "larger than", "fifo": "not a regular file"}
    assert why[kind] in school.errors[0], school.errors
    with store.read() as s:
        assert s.exec(select(User)).first() is None


def test_the_size_limit_is_configurable(store: Store, inbox: Path) -> None:
    with store.write() as s:
        b.school(s, HOME)
    path = export(inbox / f"{HOME}-learners.csv")
    report = provision(store, [path], None, ProvisionOptions(size_limit=10))
    assert report.schools[0].outcome == "rejected"
    assert "larger than" in report.schools[0].errors[0]
    assert provision(store, [path], None, ProvisionOptions()).schools[0].outcome == "applied"


@pytest.mark.parametrize("kind", ["/dev/zero", "/proc/self/environ", "link out", "65 MiB"])
async def test_the_console_refuses_a_name_outside_the_inbox_in_one_line(
        kind: str, store: Store, inbox: Path, outside: Path) -> None:
    name = hostile(kind, inbox, outside)
    app = champions_console(store, inbox)
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_export_dialog(app, pilot)
        shown = await preview(app, pilot, modal, name)
        assert WHY[kind] in shown and len(shown.strip().splitlines()) == 1, shown
        assert modal.query_one("#prov-apply").disabled
    with store.read() as s:
        assert s.exec(select(ProvisioningRun)).first() is None


async def test_the_console_reads_a_file_named_in_the_inbox(store: Store, inbox: Path) -> None:
    export(inbox / f"{HOME}-learners.csv")
    app = champions_console(store, inbox)
    async with app.run_test(size=SIZE) as pilot:
        modal = await open_export_dialog(app, pilot)
        assert str(inbox) in summary(modal)  # says where
        await preview(app, pilot, modal, f"{HOME}-learners.csv")
        assert not modal.query_one("#prov-apply").disabled
        await press_apply(pilot, modal)
        await settle(app, pilot)
    with store.read() as s:
        assert len(s.exec(select(User)).all()) == 1
