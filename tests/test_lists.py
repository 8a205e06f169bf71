"""The stage probabilities on the Lists sheet: written beside the stages, edited in Excel,
read tolerantly with every problem reported, kept through saves, languages and databases."""

import openpyxl
import pytest
import sqlalchemy as sa

import crmbook
from crmbook.errors import RecordError
from crmbook.lists import parse_share
from crmbook.schema import SCHEMA

DEFAULTS = SCHEMA.vocabulary("deal_stage").default_numbers()


def lists_sheet(path, sheet="Lists"):
    wb = openpyxl.load_workbook(path)
    return wb, wb[sheet]


def column_of(ws, heading):
    return next(c.column for c in ws[1] if c.value == heading)


def test_a_new_workbook_has_the_probabilities_beside_the_stages(new_book):
    wb, ws = lists_sheet(new_book.path)
    stages, chance = column_of(ws, "deal_stage"), column_of(ws, "probability")
    assert chance == stages + 1
    rows = [(ws.cell(r, stages).value, ws.cell(r, chance).value) for r in range(2, 8)]
    assert rows == list(DEFAULTS.items())
    assert ws.cell(2, chance).number_format == "0%"
    assert "list_deal_stage_probability" in wb.defined_names
    assert new_book.numbers("deal_stage") == DEFAULTS
    assert new_book.validate().issues == []


def test_what_an_owner_types_in_excel_is_read_and_every_problem_said(new_book):
    path = new_book.path
    wb, ws = lists_sheet(path)
    stages, chance = column_of(ws, "deal_stage"), column_of(ws, "probability")
    typed = {2: "15 %", 3: 30, 4: "half", 5: None, 6: 0.9, 7: "0,05"}  # new .. lost
    for row, value in typed.items():
        ws.cell(row, chance).value = value
    ws.cell(8, stages).value = "on hold"  # a stage of the owner's own, without a number
    wb.save(path)

    book = crmbook.open(path)
    assert book.numbers("deal_stage") == {
        "new": 0.15,
        "qualified": 0.30,
        "proposal": 0.50,  # unreadable: the default
        "negotiation": 0.75,  # blank: the default
        "won": 0.9,
        "lost": 0.05,
        "on hold": 0.0,
    }
    issues = {(i.row, i.severity): i for i in book.validate().issues if i.sheet == "Lists"}
    assert set(issues) == {(3, "warning"), (4, "error"), (5, "warning"), (8, "warning")}
    assert "read as 30%" in issues[3, "warning"].message
    assert "'half', not a percentage" in issues[4, "error"].message
    assert "crmbook counts 50%" in issues[4, "error"].message
    assert issues[4, "error"].column == "probability"
    assert "'negotiation' is empty" in issues[5, "warning"].message
    assert "'on hold' is empty; crmbook counts 0%" in issues[8, "warning"].message


def test_set_numbers_is_saved_beside_the_stages(new_book):
    new_book.set_numbers("deal_stage", {"proposal": "40%", "qualified": 0.2})
    new_book.set_list("deal_stage", [*new_book.lists["deal_stage"], "on hold"])
    new_book.save()
    _, ws = lists_sheet(new_book.path)
    stages, chance = column_of(ws, "deal_stage"), column_of(ws, "probability")
    written = {ws.cell(r, stages).value: ws.cell(r, chance).value for r in range(2, 9)}
    assert written == {**DEFAULTS, "proposal": 0.4, "qualified": 0.2, "on hold": 0}
    assert ws.cell(8, chance).number_format == "0%"
    assert crmbook.open(new_book.path).numbers("deal_stage")["proposal"] == 0.4
    with pytest.raises(RecordError, match="not between 0% and 100%"):
        new_book.set_numbers("deal_stage", {"won": 120})
    with pytest.raises(KeyError, match="no numbers"):
        new_book.numbers("channel")


def test_a_german_workbook_says_wahrscheinlichkeit(tmp_path):
    book = crmbook.create(tmp_path / "de.xlsx", lang="de")
    wb, ws = lists_sheet(book.path, "Listen")
    chance = column_of(ws, "Wahrscheinlichkeit")
    stages = column_of(ws, "deal_stage")
    row = next(r for r in range(2, 8) if ws.cell(r, stages).value == "Angebot")
    ws.cell(row, chance).value = 0.35
    wb.save(book.path)
    book = crmbook.open(book.path)
    assert book.numbers("deal_stage") == {**DEFAULTS, "proposal": 0.35}
    book.set_numbers("deal_stage", {"won": 1})
    book.save()
    _, ws = lists_sheet(book.path, "Listen")
    assert [c.value for c in ws[1]].count("Wahrscheinlichkeit") == 1
    assert crmbook.open(book.path).numbers("deal_stage")["proposal"] == 0.35


def test_without_the_column_the_defaults_count_and_validate_says_so(new_book):
    wb, ws = lists_sheet(new_book.path)
    ws.delete_cols(column_of(ws, "probability"))
    wb.save(new_book.path)
    book = crmbook.open(new_book.path)
    assert book.numbers("deal_stage") == DEFAULTS
    (issue,) = book.validate().issues
    assert issue.code == "missing-list" and issue.column == "probability"


def test_the_probabilities_are_kept_in_a_database(database_url):
    book = crmbook.create(database_url)
    assert book.numbers("deal_stage") == DEFAULTS
    assert not [i for i in book.validate().issues if i.column == "probability"]
    book.set_numbers("deal_stage", {"negotiation": 0.8})
    book.save()
    assert crmbook.open(database_url).numbers("deal_stage")["negotiation"] == 0.8


@pytest.mark.parametrize(
    ("typed", "share", "problem"),
    [
        (0.25, 0.25, None),
        (1, 1.0, None),
        ("25%", 0.25, None),
        (" 12,5 % ", 0.125, None),
        ("0.4", 0.4, None),
        (40, 0.4, "read as 40%"),
        (-0.1, None, "not between"),
        (250, None, "not between"),
        ("=A1*2", None, "not a percentage"),
        (True, None, "not a percentage"),
        (float("nan"), None, "not between"),
    ],
)
def test_shares_as_people_type_them(typed, share, problem):
    number, said = parse_share(typed)
    assert number == pytest.approx(share) if share is not None else number is None
    assert (said is None) if problem is None else (problem in said)


def test_a_database_of_an_older_crmbook_gains_the_probabilities(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    crmbook.create(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as conn:  # what version 2 stored: no probabilities
        conn.execute(sa.text("DELETE FROM crmbook_lists WHERE vocabulary = 'probability'"))
        conn.execute(sa.text("UPDATE crmbook_meta SET value = '2' WHERE key = 'schema_version'"))
    book = crmbook.open(url)
    assert book.numbers("deal_stage") == DEFAULTS
    assert not [i for i in book.validate().issues if i.column == "probability"]
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT value FROM crmbook_lists WHERE vocabulary = 'probability'")
        ).scalars()
        assert [float(v) for v in stored] == list(DEFAULTS.values())
    engine.dispose()
