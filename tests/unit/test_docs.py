"""The generated references against the code: every setting, command, option and check id is in
the docs (``docs/hooks.py`` generates the tables that ``mkdocs build --strict`` publishes)."""

import importlib.util
import re
from pathlib import Path

import pytest
from django.core.management import find_commands, load_command_class

import karafka_django
from karafka_django.conf import SETTINGS

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = Path(karafka_django.__file__).parent


@pytest.fixture(scope="module")
def hooks():
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_setting_is_in_the_settings_reference_with_its_meaning_and_check_id(hooks):
    table = hooks.settings_reference()
    for setting in SETTINGS:
        [row] = [line for line in table.splitlines() if line.startswith(f"| `{setting.key}` |")]
        assert setting.doc and setting.doc.split("`")[0][:30] in row and setting.check_id in row


def test_every_command_and_each_of_its_options_is_in_the_commands_reference(hooks):
    reference = hooks.commands_reference()
    commands = find_commands(str(PACKAGE / "management"))
    assert len(commands) >= 6
    for command in commands:
        assert f"## {command}\n" in reference
        for name, parser, _ in hooks._parsers(load_command_class("karafka_django", command).create_parser("manage.py", command), command):
            if name != command:
                assert f"### {name}\n" in reference
            for action in parser._actions:
                own = [o for o in action.option_strings if o not in hooks.DJANGO_OPTIONS]
                if own and not set(action.option_strings) & hooks.DJANGO_OPTIONS:
                    assert f"`{', '.join(action.option_strings)}`" in reference, (name, own)


def test_every_check_id_the_code_reports_has_one_troubleshooting_entry_and_no_entry_is_stale():
    in_code = {match for path in PACKAGE.rglob("*.py") for match in re.findall(r"karafka\.[EW]\d{3}", path.read_text())}
    entries = re.findall(r"^### (karafka\.[EW]\d{3})$", (ROOT / "docs" / "troubleshooting.md").read_text(), re.MULTILINE)
    assert len(entries) == len(set(entries)), "an id has two entries"
    assert set(entries) == in_code, f"missing: {sorted(in_code - set(entries))}, stale: {sorted(set(entries) - in_code)}"
