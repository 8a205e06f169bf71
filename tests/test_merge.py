"""Merging two edited copies: the pure plan, hand edits in Excel and LibreOffice, the CLI."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import libreoffice
import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

import crmbook
from crmbook.cli import main
from crmbook.schema import SCHEMA
from crmbook.sharing.ancestor import Ancestor, ancestor_from_frames, common_ancestor
from crmbook.sharing.books import merge_books, resolve
from crmbook.sharing.merge import RECORD, plan_sheet

USER = "tester"


def _base(path: Path) -> Path:
    book = crmbook.create(path, user=USER)
    anna = book.customers.add(name="Anna Schmidt", email="anna@example.com", city="Berlin")
    boris = book.customers.add(name="Boris Ivanov", city="Moscow", referred_by=anna)
    book.customers.add(name="Carla Rossi", city="Rome")
    book.interactions.add(customer_id=anna, when="2024-05-01 10:00", channel="call")
    book.interactions.add(customer_id=boris, when="2024-05-02 10:00", channel="email")
    book.save()
    return path


def _copy(src: Path, name: str) -> Path:
    dst = src.with_name(name)
    shutil.copyfile(src, dst)
    return dst


def _customers(path: Path) -> pd.DataFrame:
    return crmbook.open(path).customers.df.set_index("id")


# ---------------------------------------------------------------- the pure plan

CUSTOMERS = SCHEMA.sheet("Customers")
FIELDS = ["name", "city", "email"]


def _frame(rows: dict[str, dict]) -> pd.DataFrame:
    data = [{"id": k, **{f: v.get(f) for f in FIELDS}} for k, v in rows.items()]
    return pd.DataFrame(data, columns=["id", *FIELDS]).astype(object)


def _ancestor(rows: dict[str, dict]) -> Ancestor:
    return ancestor_from_frames({"Customers": _frame(rows)}, SCHEMA)


def _none(value: object) -> object:
    return None if pd.isna(value) else value


values = st.sampled_from(["a", "b", "c", None])
record = st.fixed_dictionaries({f: values for f in FIELDS})


@st.composite
def edited(draw, base: dict[str, dict], prefix: str) -> dict[str, dict]:
    out = {}
    for key, rec in base.items():
        action = draw(st.sampled_from(["keep", "edit", "delete"]))
        if action == "delete":
            continue
        out[key] = dict(rec)
        if action == "edit":
            for f in draw(st.sets(st.sampled_from(FIELDS), min_size=1)):
                out[key][f] = draw(values)
    for n in range(draw(st.integers(0, 2))):
        out[f"{prefix}-{n}"] = draw(record)
    return out


@st.composite
def scenario(draw):
    base = {f"C-{i}": draw(record) for i in range(draw(st.integers(1, 5)))}
    return base, draw(edited(base, "M")), draw(edited(base, "T"))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_no_edit_is_lost_and_conflicts_are_exactly_where_both_changed(case):
    base, mine, theirs = case
    plan = plan_sheet(CUSTOMERS, _frame(mine), _frame(theirs), _ancestor(base))
    result = {k: dict(v) for k, v in mine.items() if k not in plan.deletes}
    for k, changes in plan.updates.items():
        result[k].update({f: _none(v) for f, v in changes.items()})
    for row in plan.adds:
        result[row["id"]] = {f: _none(row[f]) for f in FIELDS}
    conflicts = {(c.record, c.field) for c in plan.conflicts}

    expected_conflicts = set()
    for key, was in base.items():
        m, t = mine.get(key), theirs.get(key)
        if m is None and t is None:
            assert key not in result
        elif m is None or t is None:
            kept = m if t is None else t
            if kept == was:
                assert key not in result  # deletion honoured
            else:
                expected_conflicts.add((key, RECORD))
                assert result[key] == kept  # the edit survives
        else:
            for f in FIELDS:
                if m[f] != was[f] and t[f] != was[f] and m[f] != t[f]:
                    expected_conflicts.add((key, f))
                    assert result[key][f] == m[f]  # open conflict keeps mine
                elif t[f] != was[f]:
                    assert result[key][f] == t[f]
                else:
                    assert result[key][f] == m[f]
    for key in {*mine, *theirs} - set(base):
        assert result[key] == (mine.get(key) or theirs.get(key))
    assert conflicts == expected_conflicts


def test_two_way_merge_lists_every_difference():
    mine = _frame({"C-1": {"name": "A", "city": "X"}})
    theirs = _frame({"C-1": {"name": "A", "city": "Y"}, "C-2": {"name": "B"}})
    plan = plan_sheet(CUSTOMERS, mine, theirs, None)
    assert [(c.record, c.field) for c in plan.conflicts] == [("C-1", "city")]
    assert [r["id"] for r in plan.adds] == ["C-2"]


@pytest.mark.parametrize(("prefer", "city"), [("mine", "X"), ("theirs", "Y")])
def test_prefer_decides_conflicts(prefer, city):
    base = _ancestor({"C-1": {"name": "A", "city": "Z"}})
    mine = _frame({"C-1": {"name": "A", "city": "X"}})
    theirs = _frame({"C-1": {"name": "A", "city": "Y"}})
    plan = plan_sheet(CUSTOMERS, mine, theirs, base, prefer)
    assert plan.conflicts[0].taken == prefer
    assert plan.updates.get("C-1", {}).get("city", "X") == city


def _plan_rows(plan) -> tuple:
    return (
        {k: dict(v) for k, v in plan.updates.items()},
        sorted(r["id"] for r in plan.adds),
        sorted(plan.deletes),
        sorted((c.record, c.field, c.reason) for c in plan.conflicts),
        plan.counts,
    )


def test_the_plan_does_not_depend_on_where_records_stand():
    """Records matched by key, whichever order each copy holds them in (the common ones
    standing first and in the same order in both is only a faster path)."""
    base = {f"C-{i}": {"name": f"n{i}", "city": "X"} for i in range(8)}
    mine = {k: dict(v) for k, v in base.items() if k != "C-2"}
    mine["C-1"]["city"] = "mine"
    mine["C-5"]["city"] = "mine"
    mine["M-1"] = {"name": "new mine"}
    theirs = {k: dict(v) for k, v in base.items() if k != "C-6"}
    theirs["C-3"]["email"] = "t@example.com"
    theirs["C-5"]["city"] = "theirs"
    theirs["T-1"] = {"name": "new theirs"}
    ancestor = _ancestor(base)
    ordered = plan_sheet(CUSTOMERS, _frame(mine), _frame(theirs), ancestor)
    assert _plan_rows(ordered)[3] == [("C-5", "city", "changed on both sides")]
    shuffled = _frame(theirs).sample(frac=1, random_state=3)
    reversed_mine = _frame(mine).iloc[::-1]
    for m, t in ((_frame(mine), shuffled), (reversed_mine, _frame(theirs))):
        assert _plan_rows(plan_sheet(CUSTOMERS, m, t, ancestor)) == _plan_rows(ordered)


# ---------------------------------------------------------------- files edited by hand in Excel


def _hand_edit(path: Path, edits: dict[str, dict[str, object]], append=(), delete=()) -> None:
    """Change cells, append rows without ids and delete rows the way Excel does: no bookkeeping."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path)
    ws = wb["Customers"]
    header = [c.value for c in ws[1]]
    for row in list(ws.iter_rows(min_row=2)):
        key = row[0].value
        for name, value in edits.get(key, {}).items():
            row[header.index(name)].value = value
    for key in delete:
        for row in ws.iter_rows(min_row=2):
            if row[0].value == key:
                ws.delete_rows(row[0].row)
                break
    for values in append:
        ws.append([values.get(h) for h in header])
    table = ws.tables["Customers"]
    table.ref = f"A1:{openpyxl.utils.get_column_letter(len(header))}{max(ws.max_row, 2)}"
    wb.save(path)


def test_the_save_state_finds_the_common_version_of_hand_edited_copies(tmp_path):
    base = _base(tmp_path / "base.xlsx")
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")
    _hand_edit(mine, {"C-000001": {"city": "Hamburg"}}, append=[{"name": "Dora Mine"}])
    _hand_edit(
        theirs,
        {"C-000001": {"email": "anna@new.example"}, "C-000002": {"city": "Kazan"}},
        append=[{"name": "Emil Theirs"}],
        delete=["C-000003"],
    )
    a, b = crmbook.open(mine), crmbook.open(theirs)
    ancestor, why = common_ancestor(
        a.meta, b.meta, a.storage.save_state(), b.storage.save_state(), SCHEMA
    )
    assert ancestor is not None, why
    result = merge_books(mine, theirs, tmp_path / "merged.xlsx", user=USER)
    assert result.three_way and not result.conflicts
    merged = _customers(result.path)
    assert merged.loc["C-000001", "city"] == "Hamburg"
    assert merged.loc["C-000001", "email"] == "anna@new.example"
    assert merged.loc["C-000002", "city"] == "Kazan"
    assert "C-000003" not in merged.index
    assert sorted(merged["name"]) == ["Anna Schmidt", "Boris Ivanov", "Dora Mine", "Emil Theirs"]
    # both hand-added rows got C-000004 on reading: theirs' was renumbered
    assert result.renumbered == {"Customers": {"C-000004": "C-000005"}}


def test_copies_of_different_workbooks_fall_back_to_two_way(tmp_path):
    a, b = _base(tmp_path / "a.xlsx"), _base(tmp_path / "b.xlsx")
    result = merge_books(a, b, tmp_path / "merged.xlsx", user=USER)
    assert not result.three_way and "different workbook ids" in result.how


def test_merge_keeps_mine_user_sheets(tmp_path):
    base = _base(tmp_path / "base.xlsx")
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")
    wb = openpyxl.load_workbook(mine)
    wb.create_sheet("My notes")["A1"] = "keep me"
    wb.save(mine)
    _hand_edit(theirs, {"C-000002": {"city": "Kazan"}})
    out = merge_books(mine, theirs, tmp_path / "merged.xlsx", user=USER).path
    assert openpyxl.load_workbook(out)["My notes"]["A1"].value == "keep me"


# ---------------------------------------------------------------- end to end through the CLI


def test_cli_merge_with_base_conflicts_deletions_and_same_new_ids(tmp_path):
    base = _base(tmp_path / "base.xlsx")
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")

    book = crmbook.open(mine, user="me")
    book.customers.update("C-000001", city="Hamburg", notes="prefers email")
    mine_new = book.customers.add(name="Dora Mine")
    book.interactions.add(customer_id=mine_new, when="2024-06-01 09:00", channel="visit")
    book.customers.delete("C-000003")
    book.save()

    book = crmbook.open(theirs, user="colleague")
    book.customers.update("C-000001", city="Munich", phone="+49 30 1234567")
    theirs_new = book.customers.add(name="Emil Theirs", referred_by="C-000002")
    book.interactions.add(customer_id=theirs_new, when="2024-06-02 09:00", channel="call")
    book.interactions.delete("I-000002")
    book.save()
    assert mine_new == theirs_new == "C-000004"

    out = tmp_path / "merged.xlsx"
    args = ["merge", str(mine), str(theirs), "--base", str(base), "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 1, result.output  # one conflict is open
    report = json.loads(result.output)
    assert report["renumbered"] == {
        "Customers": {"C-000004": "C-000005"},
        "Interactions": {"I-000003": "I-000004"},
    }
    assert [(c["record"], c["field"]) for c in report["conflicts"]] == [("C-000001", "city")]

    merged = crmbook.open(out)
    customers = merged.customers.df.set_index("id")
    assert customers.loc["C-000001", ["city", "notes", "phone"]].tolist() == [
        "Hamburg",
        "prefers email",
        "+49 30 1234567",
    ]
    assert "C-000003" not in customers.index
    assert customers.loc["C-000005", "name"] == "Emil Theirs"
    interactions = merged.interactions.df.set_index("id")
    assert "I-000002" not in interactions.index
    assert interactions.loc["I-000004", "customer_id"] == "C-000005"
    assert interactions.loc["I-000003", "customer_id"] == "C-000004"
    who = set(merged.table("Log").df["who"])
    assert {"me", "colleague"} <= who

    wb = openpyxl.load_workbook(out)
    ws = wb["Conflicts"]
    header = [c.value for c in ws[1]]
    ws.cell(2, header.index("take") + 1).value = "theirs"
    wb.save(out)
    result = CliRunner().invoke(main, ["resolve", str(out), "--user", "me"])
    assert result.exit_code == 0, result.output
    assert "C-000001 city: took theirs" in result.output
    assert _customers(out).loc["C-000001", "city"] == "Munich"


def test_new_calls_with_one_id_for_each_sides_new_customer_are_both_kept(tmp_path):
    base = _base(tmp_path / "base.xlsx")
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")
    for path, name in ((mine, "Dora Mine"), (theirs, "Emil Theirs")):
        book = crmbook.open(path, user=USER)
        new = book.customers.add(name=name)  # C-000004 on both sides
        book.interactions.add(customer_id=new, when="2024-06-01 09:00", channel="call")
        book.save()
    result = merge_books(mine, theirs, tmp_path / "m.xlsx", user=USER)
    assert not result.conflicts
    assert result.renumbered == {
        "Customers": {"C-000004": "C-000005"},
        "Interactions": {"I-000003": "I-000004"},
    }
    calls = crmbook.open(result.path).interactions.df.set_index("id")
    assert calls.loc[["I-000003", "I-000004"], "customer_id"].tolist() == ["C-000004", "C-000005"]


def test_the_merged_sheets_read_back_the_same_in_openpyxl_and_calamine(tmp_path):
    """The result's Customers sheet is written again as its rows stream by (a deletion moves
    the rows after it up, changed records rendered, the others copied): two independent
    readers see exactly the merged records."""
    base = tmp_path / "base.xlsx"
    book = crmbook.create(base, user=USER)
    ids = book.customers.add_many([{"name": f"Kunde {i}", "city": "Köln"} for i in range(12)])
    book.save(backups=0)
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")
    book = crmbook.open(mine, user=USER)
    book.customers.update(ids[1], city="Москва")
    book.save(backups=0)
    book = crmbook.open(theirs, user=USER)
    book.customers.delete_many([ids[0], ids[5]])
    book.customers.update(ids[8], city="תל אביב")
    added = book.customers.add(name="Neu & <b>", city="Rome")
    book.save(backups=0)
    result = merge_books(mine, theirs, tmp_path / "m.xlsx", user=USER)
    assert not result.conflicts

    kept = [k for k in ids if k not in (ids[0], ids[5])] + [added]
    city = {k: "Köln" for k in kept} | {ids[1]: "Москва", ids[8]: "תל אביב", added: "Rome"}
    expected = [(k, city[k]) for k in kept]
    rows = CalamineWorkbook.from_path(str(result.path)).get_sheet_by_name("Customers").to_python()
    header = rows[0]
    at = header.index("id"), header.index("city")
    assert [(r[at[0]], r[at[1]]) for r in rows[1:]] == expected
    ws = openpyxl.load_workbook(result.path, read_only=True)["Customers"]
    values = list(ws.iter_rows(min_row=2, values_only=True))
    assert [(r[at[0]], r[at[1]]) for r in values] == expected
    assert dict(zip(header, values[-1], strict=False))["name"] == "Neu & <b>"


def test_a_merge_tells_each_step_as_it_starts(tmp_path):
    """What the CLI's progress bars show (on a terminal) while a big merge runs."""
    base = _base(tmp_path / "base.xlsx")
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")
    steps = []
    merge_books(
        mine, theirs, tmp_path / "m.xlsx", user=USER, progress=lambda step, *_: steps.append(step)
    )
    assert steps == [
        "Finding the common version",
        "Reading mine.xlsx",
        "Reading theirs.xlsx",
        "Comparing the copies",
        "Taking the changes of theirs.xlsx",
        "Saving m.xlsx",
    ]


def test_prefer_theirs_and_resolve_api(tmp_path):
    base = _base(tmp_path / "base.xlsx")
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")
    for path, city in ((mine, "Hamburg"), (theirs, "Munich")):
        book = crmbook.open(path, user=USER)
        book.customers.update("C-000001", city=city)
        book.save()
    out = merge_books(mine, theirs, tmp_path / "m.xlsx", prefer="theirs", user=USER)
    assert not out.open_conflicts
    assert _customers(out.path).loc["C-000001", "city"] == "Munich"
    out = merge_books(mine, theirs, tmp_path / "m2.xlsx", user=USER)
    done = resolve(out.path, take="theirs", user=USER)
    assert len(done.applied) == 1 and done.still_open.empty
    assert _customers(out.path).loc["C-000001", "city"] == "Munich"


# ---------------------------------------------------------------- save state by generation


def _log_a_call(path: Path, customer: str, user: str) -> None:
    """A call logged in a notebook: the page opens every sheet, adds, saves."""
    from crmbook.widgets.session import Session

    book = Session(path, user=user).book
    for sheet in book.schema.entities:
        book.table(sheet.name).df  # noqa: B018 -- the pages show every sheet
    book.interactions.add(customer_id=customer, when="2024-06-01 09:00", channel="call")
    book.save()


HAND_EDITS = {
    "mine": [
        ("Customers", "C-000001", "city", "Hamburg"),
        ("Customers", "C-000003", "city", "Milan"),
    ],
    "theirs": [
        ("Customers", "C-000002", "city", "Kazan"),
        ("Customers", "C-000003", "city", "Naples"),
    ],
}


def _log_a_call_in_python(path: Path, customer: str, user: str) -> None:
    """A call logged through the Book, which reads no sheet but the one it adds to."""
    book = crmbook.open(path, user=user)
    book.interactions.add(customer_id=customer, when="2024-06-01 09:00", channel="call")
    book.save()


def _edited_copies(tmp_path: Path, edit, log=_log_a_call) -> tuple[Path, Path]:
    """The issue's case: copies of one saved book, each changed by hand (a different customer,
    and Carla's city differently on both), then saved once more through crmbook."""
    base = _base(tmp_path / "base.xlsx")
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")
    edit(mine, HAND_EDITS["mine"])
    edit(theirs, HAND_EDITS["theirs"])
    log(theirs, "C-000002", "colleague")  # saved in the other order
    log(mine, "C-000001", "me")
    return mine, theirs


def _check_the_one_true_conflict(result) -> None:
    assert result.three_way, result.how
    assert [(c.record, c.field, c.mine, c.theirs) for c in result.conflicts] == [
        ("C-000003", "city", "Milan", "Naples")
    ]
    merged = _customers(result.path)
    assert merged.loc["C-000001", "city"] == "Hamburg"
    assert merged.loc["C-000002", "city"] == "Kazan"
    assert len(crmbook.open(result.path).interactions.df) == 4


def _excel_edit(path: Path, edits) -> None:
    _hand_edit(path, {key: {heading: value} for _, key, heading, value in edits[:1]})
    _hand_edit(path, {key: {heading: value} for _, key, heading, value in edits[1:]})


def test_hand_edits_then_crmbook_saves_give_only_the_true_conflict(tmp_path):
    mine, theirs = _edited_copies(tmp_path, _excel_edit)
    _check_the_one_true_conflict(merge_books(mine, theirs, tmp_path / "m.xlsx", user=USER))


def test_the_issue_case_through_the_cli_reports_exactly_one_conflict(tmp_path):
    mine, theirs = _edited_copies(tmp_path, _excel_edit, log=_log_a_call_in_python)
    out = tmp_path / "m.xlsx"
    args = ["merge", str(mine), str(theirs), "--out", str(out), "--user", USER]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    assert "from the last save both copies share" in result.output
    assert "1 conflict(s) open" in result.output
    report = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).output)
    assert [(c["record"], c["field"], c["mine"], c["theirs"]) for c in report["conflicts"]] == [
        ("C-000003", "city", "Milan", "Naples")
    ]
    merged = _customers(out)
    assert merged.loc[["C-000001", "C-000002"], "city"].tolist() == ["Hamburg", "Kazan"]


def _resaved_by_libreoffice(path: Path) -> None:
    """Open `path` in LibreOffice and save it there again as .xlsx, in its place."""
    work = path.parent / f"lo-{path.stem}"
    shutil.copyfile(libreoffice.convert([path], work) / path.name, path)


def _state_sheet_states(path: Path) -> set[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    states = {wb[name].sheet_state for name in ("_crmbook_base", "_crmbook_saves")}
    wb.close()
    return states


@pytest.mark.libreoffice
@libreoffice.needs_libreoffice
@pytest.mark.parametrize("theirs_resaved", [("before",), ("before", "after")])
def test_copies_resaved_by_libreoffice_around_their_hand_edits_give_only_the_true_conflict(
    tmp_path, theirs_resaved
):
    def edit(path: Path, edits) -> None:
        resaved = ("after",) if path.name == "mine.xlsx" else theirs_resaved
        if "before" in resaved:
            _resaved_by_libreoffice(path)
        _excel_edit(path, edits)
        if "after" in resaved:  # the edit is in a file LibreOffice wrote
            _resaved_by_libreoffice(path)
            assert _state_sheet_states(path) == {"hidden"}  # it has no very hidden sheets

    mine, theirs = _edited_copies(tmp_path, edit, log=_log_a_call_in_python)
    assert _state_sheet_states(mine) == _state_sheet_states(theirs) == {"veryHidden"}
    _check_the_one_true_conflict(merge_books(mine, theirs, tmp_path / "m.xlsx", user=USER))


def _remove_state_sheets(path: Path) -> None:
    """What another program (or a person unhiding them) may do: the state sheets go."""
    wb = openpyxl.load_workbook(path)
    for name in ("_crmbook_base", "_crmbook_saves"):
        del wb[name]
    wb.save(path)


@pytest.mark.parametrize("saved_since", [True, False])
def test_a_copy_whose_state_sheets_were_removed_merges_from_the_save_it_was_at(
    tmp_path, saved_since
):
    def edit(path: Path, edits) -> None:
        _excel_edit(path, edits)
        if path.name == "theirs.xlsx":
            _remove_state_sheets(path)

    log = _log_a_call_in_python if saved_since else (lambda *_: None)
    mine, theirs = _edited_copies(tmp_path, edit, log=log)
    result = merge_books(mine, theirs, tmp_path / "m.xlsx", user=USER)
    assert "save state had been removed" in result.how
    assert result.three_way and [(c.record, c.field) for c in result.conflicts] == [
        ("C-000003", "city")
    ]
    merged = _customers(result.path)
    assert merged.loc[["C-000001", "C-000002"], "city"].tolist() == ["Hamburg", "Kazan"]
    assert _state_sheet_states(result.path) == {"veryHidden"}


@pytest.mark.libreoffice
@libreoffice.needs_uno
def test_edits_typed_in_libreoffice_and_a_copy_resaved_there_give_only_the_true_conflict(
    tmp_path,
):
    mine, theirs = _edited_copies(tmp_path, libreoffice.edit)
    libreoffice.edit(theirs)  # opened and saved once more in LibreOffice
    _check_the_one_true_conflict(merge_books(mine, theirs, tmp_path / "m.xlsx", user=USER))


def test_copies_that_went_back_and_forth_merge_from_the_newest_save_they_share(tmp_path):
    base = _base(tmp_path / "base.xlsx")
    mine, theirs = _copy(base, "mine.xlsx"), _copy(base, "theirs.xlsx")
    _hand_edit(mine, {"C-000001": {"city": "Hamburg"}})
    _hand_edit(theirs, {"C-000001": {"email": "anna@new.example"}})
    first = merge_books(mine, theirs, tmp_path / "merged.xlsx", user=USER)
    assert not first.conflicts
    shutil.copyfile(first.path, mine)  # mine goes on from the merge

    book = crmbook.open(mine, user="me")
    book.customers.update("C-000001", city="Bremen")  # changes the city once more
    book.save()
    book = crmbook.open(theirs, user="colleague")
    book.customers.update("C-000002", city="Kazan")
    book.save()
    second = merge_books(mine, theirs, tmp_path / "again.xlsx", user=USER)
    assert second.three_way and not second.conflicts, second.conflicts
    merged = _customers(second.path)
    assert merged.loc["C-000001", ["city", "email"]].tolist() == ["Bremen", "anna@new.example"]
    assert merged.loc["C-000002", "city"] == "Kazan"

    shutil.copyfile(second.path, theirs)  # and back: mine takes what it lacked, no conflict
    third = merge_books(mine, theirs, tmp_path / "third.xlsx", user=USER)
    assert not third.conflicts
    same = _customers(third.path).drop(columns="updated")
    assert same.equals(_customers(second.path).drop(columns="updated"))


def test_newest_shared_generation_of_merged_copies():
    from crmbook.sharing.ancestor import newest_shared
    from crmbook.storage.state import Generation, SaveState

    def state(*gens: Generation) -> SaveState:
        return SaveState(generations={g.id: g for g in gens})

    a, b = Generation("a", "2026-01-01", "x"), Generation("b", "2026-01-02", "x", ("a",))
    c = Generation("c", "2026-01-03", "y", ("a",))
    merged = Generation("m", "2026-01-04", "x", ("b", "c"))
    d = Generation("d", "2026-01-05", "y", ("c",))
    mine = state(a, b, Generation("c", c.when, c.who, c.parents, here=False), merged)
    theirs = state(a, c, d)
    gen, holder = newest_shared(mine, theirs)
    assert gen == "c" and holder is theirs  # not "a": the merge took c in
    assert newest_shared(state(b), state(Generation("c", c.when, c.who, (), here=False))) is None


def test_books_with_the_earlier_fingerprints_still_merge(tmp_path):
    old = Path(__file__).parent / "files" / "fingerprints-v1.xlsx"
    mine, theirs = tmp_path / "mine.xlsx", tmp_path / "theirs.xlsx"
    shutil.copyfile(old, mine)
    shutil.copyfile(old, theirs)
    book = crmbook.open(mine, user="me")  # saved by this crmbook: the new state
    book.customers.update("C-000001", city="Hamburg")
    book.save()
    _hand_edit(theirs, {"C-000002": {"city": "Kazan"}})  # still in the earlier format
    result = merge_books(mine, theirs, tmp_path / "m.xlsx", user=USER)
    assert result.three_way and "fingerprints" in result.how and not result.conflicts
    merged = _customers(result.path)
    assert merged.loc["C-000001", "city"] == "Hamburg"
    assert merged.loc["C-000002", "city"] == "Kazan"
