"""The standard-format samples in data/samples apply cleanly to the demo, and a second time
change nothing; the console's and the command's `--format auto` both find them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hwb_tui.cli import main
from hwb_tui.core.db import Store
from hwb_tui.core.models import DEACTIVATED
from tests.provisioning.conftest import users

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
IN_ORDER = [  # (sample, schools, created by the first run, deactivated by it)
    ("oneroster-1.1-bulk", ["6612001", "6634001"], 14, 0),
    ("oneroster-1.1-delta", ["6634001"], 0, 1),
    ("oneroster-1.2", ["6622001"], 6, 0),
    ("6602001-ctf-full.xml", ["6602001"], 3, 0),
]


def provision_json(url: str, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code = main(["--db", url, "provision", *args, "--as-of", "2026-11-30", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0, data
    return data


def test_standard_samples_apply_cleanly_to_the_demo_and_idempotently(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "demo", "--create-only", "--users", "2000"]) == 0
    capsys.readouterr()
    for sample, schools, created, deactivated in IN_ORDER:
        path = str(SAMPLES / sample)
        first = provision_json(sqlite_url, capsys, path)
        results = first["schools"]
        assert isinstance(results, list)
        assert [s["school"] for s in results] == schools, sample
        assert all(s["outcome"] == "applied" and s["errors"] == [] for s in results), sample
        assert sum(s["counts"]["created"] for s in results) == created, sample
        assert sum(s["counts"]["deactivated"] for s in results) == deactivated, sample
        second = provision_json(sqlite_url, capsys, path)
        assert all(v == 0 for s in second["schools"] for k, v in s["counts"].items()
                   if k != "not_in_export"), sample
    store = Store(sqlite_url)
    try:
        got = users(store)
    finally:
        store.dispose()
    by_name = {(u.surname, u.forename): u for u in got.values()}
    assert by_name[("Cadwaladr", "Heledd")].status == DEACTIVATED  # the delta's tobedeleted
    assert ("Gruffydd-Huws", "Osian") in by_name  # the delta's name change
    assert by_name[("Meredith", "Catrin")].forename == "Catrin"  # legal name, not "Cat"
    assert by_name[("Glyndŵr", "Owain")].school == "6634001"
    assert by_name[("Rhydderch", "Begw")].year_group == 0  # Reception in the CTF
    assert by_name[("Roberts", "Menna")].kind == "staff"


def test_each_sample_is_found_by_format_auto_and_by_its_explicit_format(
        sqlite_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--db", sqlite_url, "demo", "--create-only", "--users", "2000"]) == 0
    capsys.readouterr()
    for sample, fmt in (("oneroster-1.1-bulk", "oneroster"),
                        ("oneroster-1.2/manifest.csv", "oneroster"),
                        ("6602001-ctf-full.xml", "ctf")):
        path = str(SAMPLES / sample)
        auto = provision_json(sqlite_url, capsys, path, "--dry-run")
        explicit = provision_json(sqlite_url, capsys, path, "--dry-run", "--format", fmt)
        assert auto["schools"] == explicit["schools"]
