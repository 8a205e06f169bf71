"""Likely duplicate customers and merging one into another without losing history."""

from __future__ import annotations

from click.testing import CliRunner

import crmbook
from crmbook.cli import main
from crmbook.sharing.dedupe import duplicate_pairs


def _book(tmp_path):
    book = crmbook.create(tmp_path / "crm.xlsx", user="tester")
    ivanov = book.customers.add(
        name="Иванов Сергей Викторович", phone="+7 495 5870802", city="Moscow"
    )
    twin = book.customers.add(
        name="Ivanov Sergey V.",
        phone="8 495 587-08-02",
        email="ivanov.sv@example.com",
        city="Moscow",
        notes="typed twice",
    )
    book.customers.add(name="Anna Schmidt", email="ANNA@example.com ")
    book.customers.add(name="A. Schmidt", email="anna@example.com", referred_by=twin)
    book.customers.add(name="Boris Ivanov", city="Kazan")
    book.interactions.add(customer_id=twin, when="2024-05-01 10:00", channel="call")
    book.sales.add(customer_id=twin, date="2024-05-02", amount=100)
    book.save()
    return book.path, ivanov, twin


def test_planted_pairs_are_found_with_reasons(tmp_path):
    path, ivanov, twin = _book(tmp_path)
    pairs = duplicate_pairs(crmbook.open(path).customers.df)
    found = {(r.a, r.b): r for r in pairs.itertuples()}
    assert set(found) == {(ivanov, twin), ("C-000003", "C-000004")}
    assert "similar name" in found[(ivanov, twin)].reasons
    assert found[("C-000003", "C-000004")].reasons.startswith("same email")


def test_merge_repoints_history_and_fills_empty_fields(tmp_path):
    path, ivanov, twin = _book(tmp_path)
    result = CliRunner().invoke(main, ["dedupe", str(path), "--merge", ivanov, twin])
    assert result.exit_code == 0, result.output
    book = crmbook.open(path)
    customers = book.customers.df.set_index("id")
    assert twin not in customers.index
    assert customers.loc[ivanov, "email"] == "ivanov.sv@example.com"
    assert customers.loc[ivanov, "notes"] == "typed twice"
    assert customers.loc[ivanov, "phone"] == "+7 495 5870802"  # not overwritten
    assert customers.loc["C-000004", "referred_by"] == ivanov
    assert book.interactions.df["customer_id"].tolist() == [ivanov]
    assert book.sales.df["customer_id"].tolist() == [ivanov]
    log = book.table("Log").df
    assert f"merged into {ivanov}" in log["new"].tolist()


def test_cli_lists_pairs(tmp_path):
    path, _, _ = _book(tmp_path)
    result = CliRunner().invoke(main, ["dedupe", str(path), "--format", "csv"])
    assert result.exit_code == 0
    assert "Ivanov Sergey V." in result.output
