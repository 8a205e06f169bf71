"""The README cannot drift from the code: commands, their help, and the sheet columns."""

import re
from pathlib import Path

import click

from crmbook.cli import main
from crmbook.schema import SCHEMA

README = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "crmbook"):
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        yield path, command
        if isinstance(command, click.Group) and name != "add":
            yield from _commands(command, path)


def test_readme_starts_with_make_demo_and_make_test():
    first_block = README.split("```")[1]
    assert "make demo" in first_block and "make test" in first_block


def test_every_command_is_in_the_readme_with_its_help():
    for path, command in _commands(main):
        assert f"`{path}" in README, f"{path} is not documented in README.md"
        first_line = (command.help or "").strip().splitlines()[0]
        assert first_line in README, f"README lacks the help of {path}: {first_line!r}"


def test_every_option_is_in_the_readme():
    """Each option a command takes (add's fields come from the schema: see the next test)."""
    for path, command in _commands(main):
        if path.startswith("crmbook add"):
            continue
        for param in command.params:
            for option in getattr(param, "opts", []) + getattr(param, "secondary_opts", []):
                if option.startswith("--") and option != "--help":
                    assert f"{option}" in README, f"README lacks {option} of {path}"


def test_the_row_limit_of_tables_is_documented():
    from crmbook.cli import ROWS_SHOWN

    assert f"stops after {ROWS_SHOWN} rows" in README and "`--all`" in README


def test_every_add_entity_is_listed():
    for sheet in SCHEMA.entities:
        assert f"`{sheet.entity}`" in README


def test_sheet_table_matches_the_schema():
    rows = {
        m.group(1): m.group(3)
        for m in re.finditer(r"^\| (\w+) \| ([^|]*) \| ([^|]*) \|$", README, flags=re.MULTILINE)
    }
    for sheet in SCHEMA.sheets:
        if sheet.system:
            continue
        assert rows[sheet.name].strip() == ", ".join(sheet.columns), sheet.name
