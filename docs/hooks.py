"""MkDocs hook: the reference pages' tables are generated from the code at build time, so the
docs cannot drift from it. A page asks for one with a ``<!-- karafka:NAME -->`` marker;
``tests/unit/test_docs.py`` calls the same functions."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"<!-- karafka:([a-z-]+) -->")
#: BaseCommand's own options, the same for every Django command (Django's documentation has them).
DJANGO_OPTIONS = {"--version", "--verbosity", "--settings", "--pythonpath", "--traceback", "--no-color",
                  "--force-color", "--skip-checks", "--help"}


def setup_django() -> None:
    """The package's app registry, for the commands' parsers (a test session has set it up already)."""
    from django.conf import settings

    if not settings.configured:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DATABASE_URL", "sqlite://:memory:")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def settings_reference() -> str:
    from karafka_django.conf import SETTINGS

    rows = ["| key | default | meaning | invalid |", "| --- | --- | --- | --- |"]
    rows += [f"| `{s.key}` | `{s.default!r}` | {_cell(s.doc)} | `{s.check_id}` |" for s in SETTINGS]
    return "\n".join(rows)


def _parsers(parser: argparse.ArgumentParser, name: str) -> Iterator[tuple[str, argparse.ArgumentParser, str]]:
    """The command's parser, then each subcommand's (``karafka_groups seek``)."""
    yield name, parser, parser.description or ""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for sub, subparser in action.choices.items():
                yield f"{name} {sub}", subparser, helps.get(sub) or ""


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._SubParsersAction, argparse._HelpAction)):
            continue
        names = action.option_strings or [action.dest.upper()]
        if DJANGO_OPTIONS.intersection(names):
            continue
        default = "" if action.default in (None, argparse.SUPPRESS) or action.option_strings == [] else f"`{action.default!r}`"
        rows.append(f"| `{', '.join(names)}` | {default} | {_cell(action.help or '')} |")
    return rows


def commands_reference() -> str:
    from django.core.management import find_commands, load_command_class

    import karafka_django

    setup_django()
    directory = Path(karafka_django.__file__).parent / "management"
    parts = []
    for command in sorted(find_commands(str(directory))):
        instance = load_command_class("karafka_django", command)
        parser = instance.create_parser("manage.py", command)
        parts.append(f"## {command}\n\n{_cell(instance.help)}\n")
        for name, sub, description in _parsers(parser, command):
            rows = _option_rows(sub)
            if name != command:
                parts.append(f"### {name}\n\n{_cell(description)}\n")
            if rows:
                parts.append("| argument | default | meaning |\n| --- | --- | --- |\n" + "\n".join(rows) + "\n")
    return "\n".join(parts)


def bench_results() -> str:
    """bench/RESULTS.md, its headings one level down (it is a section of the benchmarks page)."""
    text = (ROOT / "bench" / "RESULTS.md").read_text()
    return re.sub(r"^(#+) ", r"#\1 ", text.split("\n", 1)[1], flags=re.MULTILINE)


def peers_results() -> str:
    """The section of bench/RESULTS.md that ``./bench/peers/run`` produced, without its heading."""
    text = (ROOT / "bench" / "RESULTS.md").read_text()
    section = text.split(f"\n{PEERS_HEADING}", 1)[1].split("\n## ", 1)[0]
    return section.split("\n", 1)[1].strip()


PEERS_HEADING = "## The Python peers"


GENERATORS: dict[str, Callable[[], str]] = {
    "settings": settings_reference, "commands": commands_reference, "bench-results": bench_results,
    "peers-results": peers_results,
}


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    setup_django()
    return MARKER.sub(lambda match: GENERATORS[match.group(1)](), markdown)
