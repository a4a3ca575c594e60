"""The i18n layer: every message in both languages, same placeholders, every key used exists,
glossary terms kept, and the CLI speaks Welsh."""

from __future__ import annotations

import ast
import re
from enum import StrEnum
from pathlib import Path

import pytest

import hwb_tui
from hwb_tui.cli import main
from hwb_tui.core import access, bulk, health, leaving, models, runs, schools
from hwb_tui.core.access import Actor
from hwb_tui.core.errors import NotPermitted
from hwb_tui.core.models import KINDS, ROLES
from hwb_tui.i18n import LANGUAGES, MESSAGES_DIR, catalogue, set_language, t
from hwb_tui.provisioning import decide, plan

PACKAGE = Path(hwb_tui.__file__).parent
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}|%\((\w+)\)[sdr]|%[sdr]")


def placeholders(text: str) -> list[str]:
    return sorted(m.group(0) if not (m.group(1) or m.group(2)) else (m.group(1) or m.group(2))
                  for m in PLACEHOLDER.finditer(text))


@pytest.mark.parametrize("key", sorted(catalogue()))
def test_every_message_has_both_languages_with_same_placeholders(key: str) -> None:
    entry = catalogue()[key]
    for lang in LANGUAGES:
        assert entry.get(lang, "").strip(), f"{key} has no {lang} text"
    assert placeholders(entry["en"]) == placeholders(entry["cy"]), key


def test_placeholder_check_catches_a_mismatch() -> None:
    assert placeholders("{username} was deactivated by {by}") != placeholders(
        "{username} wedi'i ddadactifadu gan {gan}"
    )
    assert placeholders("%(value)r (choose from %(choices)s)") == placeholders(
        "%(value)r (dewiswch o %(choices)s)"
    )


def _literal_keys() -> set[tuple[str, str]]:
    """Message keys the code names literally: t("key", ...) calls and HwbError `key = "..."`."""
    found: set[tuple[str, str]] = set()
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name | ast.Attribute)
                and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add((node.args[0].value, f"{path.name}:{node.lineno}"))
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "key"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and "." in node.value.value
            ):
                found.add((node.value.value, f"{path.name}:{node.lineno}"))
    return found


def test_every_key_the_code_uses_is_in_the_catalogue() -> None:
    keys = _literal_keys()
    assert len(keys) > 20  # the scan really finds the code's keys
    missing = sorted(f"{where}: {key}" for key, where in keys if key not in catalogue())
    assert not missing, "messages missing from the catalogue:\n" + "\n".join(missing)


def test_keys_built_from_domain_values_exist() -> None:
    for kind in KINDS:
        assert f"kind.{kind}" in catalogue()
    for role in ROLES:
        assert f"role.{role}" in catalogue()
    for status in ("active", "deactivated"):
        assert f"status.{status}" in catalogue()


def _glossary_rules() -> list[tuple[str, str, str]]:
    rules = []
    text = (MESSAGES_DIR.parent / "glossary-cy.md").read_text(encoding="utf-8")
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[2].startswith("`") and cells[3].startswith("`"):
            rules.append((cells[0], cells[2].strip("`"), cells[3].strip("`")))
    return rules


def test_glossary_terms_are_used_consistently() -> None:
    rules = _glossary_rules()
    assert len(rules) >= 10
    wrong = []
    for key, entry in catalogue().items():
        if key.startswith("argparse."):
            continue
        for term, en_pattern, cy_stem in rules:
            if re.search(en_pattern, entry["en"], re.IGNORECASE) and cy_stem.lower() not in entry[
                "cy"
            ].lower():
                wrong.append(f"{key}: '{term}' should be '{cy_stem}…' in Welsh: {entry['cy']}")
    assert not wrong, "\n".join(wrong)


def test_project_glossary_keeps_step_with_the_workplace_glossary() -> None:
    shared = Path(__file__).resolve().parents[3] / "shared" / "glossary-cy.md"
    if not shared.exists():
        pytest.skip("the workplace glossary (../shared/glossary-cy.md) is not beside this checkout")
    ours = (MESSAGES_DIR.parent / "glossary-cy.md").read_text(encoding="utf-8").lower()
    for term in ("llywodraethwr", "dysgwr", "dadactifadu", "myfyrwyr aga", "pencampwr digidol",
                 "gweinyddwr hwb", "dyddiad gadael", "rhif adas", "cod staff"):
        assert term in shared.read_text(encoding="utf-8").lower()
        assert term in ours, term


def test_cli_help_and_errors_in_welsh(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--lang", "cy", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "defnydd:" in out and "opsiynau" in out and t("cli.description", lang="cy") in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--lang", "cy", "dim-gorchymyn"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "gwall defnydd" in err and "dewis annilys" in err


def test_hwb_lang_environment_variable(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HWB_LANG", "cy")
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "defnydd:" in capsys.readouterr().out
    monkeypatch.setenv("HWB_LANG", "cy")
    with pytest.raises(SystemExit):
        main(["--lang", "en", "--help"])  # --lang wins over HWB_LANG
    assert "usage:" in capsys.readouterr().out


# Every domain word is a StrEnum, and every message built from one is in the catalogue: a word
# added to an enum without its messages fails here, not in front of an operator.
def _word_messages() -> list[tuple[str, str]]:
    pairs: list[tuple[type[StrEnum], tuple[str, ...]]] = [
        (models.Kind, ("kind.{}",)),
        (models.Source, ("source.{}",)),
        (models.Status, ("status.{}", "tui.filter.{}")),
        (models.Role, ("role.{}",)),
        (access.Action, ("action.{}", "tui.manage.{}", "tui.done.{}")),
        (plan.NoticeKind, ("provisioning.notice.{}",)),
        (runs.Outcome, ("provisioning.outcome.{}", "tui.prov.outcome.{}")),
        (runs.HeldState, ("runs.state.{}",)),
        (decide.Skip, ("runs.skip.{}",)),
        (decide.PutBack, ("runs.put_back.{}",)),
        (decide.Blocker, ("runs.blocker.{}",)),
        (health.CheckName, ("health.check.{}",)),
        (leaving.LeavingReason, ("leaving.reason.{}",)),
        (bulk.Reason, ()),
        (schools.RegisterChange, ("schools.change.{}", "schools.change_dry.{}")),
    ]
    found = [(pattern.format(word.value), f"{enum.__qualname__}.{word.name}")
             for enum, patterns in pairs for word in enum for pattern in patterns]
    found += [(f"tui.confirm.{a}", "Action (confirmed)")
              for a in (access.Action.DEACTIVATE, access.Action.ACTIVATE)]
    return found


def test_every_domain_word_has_its_messages() -> None:
    words = _word_messages()
    assert len(words) > 40  # the enums really are iterated
    missing = sorted(f"{word}: {key}" for key, word in words if key not in catalogue())
    assert not missing, "messages missing for domain words:\n" + "\n".join(missing)


def test_an_error_is_said_in_the_readers_language_not_the_raisers() -> None:
    # raised while the process speaks Welsh (a CLI run with --lang cy, say) ...
    set_language("cy")
    champion = Actor(login="champ", role="digital-champion", schools=frozenset({"6612001"}))
    with pytest.raises(NotPermitted) as refused:
        champion.require_school("6612002")
    set_language("en")
    # ... and read by an operator who works in English: every word of it in English
    english = refused.value.message("en")
    assert english == t("error.not_permitted", "en",
                        detail=t("permission.school_outside_scope", "en", dfes="6612002"))
    assert refused.value.message("cy") == t(
        "error.not_permitted", "cy", detail=t("permission.school_outside_scope", "cy",
                                              dfes="6612002"))
    assert english != refused.value.message("cy")
