"""The demo data is what owners and analysts judge crmbook by: it must be valid and believable."""

from __future__ import annotations

import datetime as dt
import os
import signal
import string
import subprocess
import sys
import time

import pandas as pd
import pytest

from crmbook.analytics.pipeline import forecast
from crmbook.analytics.reminders import KINDS, contact_due_reminders, reminders
from crmbook.demo import DemoData, generate_demo
from crmbook.schema import SCHEMA

TODAY = dt.date(2025, 3, 10)


@pytest.fixture(scope="module")
def demo() -> DemoData:
    return generate_demo(2000, today=TODAY)


def test_same_seed_gives_same_frames_and_another_seed_does_not() -> None:
    a, b = (generate_demo(300, seed=7, today=TODAY) for _ in range(2))
    for name, frame in a.frames.items():
        pd.testing.assert_frame_equal(frame, b.frames[name])
    other = generate_demo(300, seed=8, today=TODAY)
    assert not other.frames["Customers"].equals(a.frames["Customers"])
    assert not other.frames["Interactions"].equals(a.frames["Interactions"])


def test_one_frame_per_sheet_with_the_schema_columns(demo: DemoData) -> None:
    assert list(demo.frames) == [s.name for s in SCHEMA.entities]
    for sheet in SCHEMA.entities:
        assert list(demo.frames[sheet.name].columns) == sheet.columns, sheet.name


def test_size_scales_with_customers(demo: DemoData) -> None:
    assert len(demo.frames["Customers"]) == 2000
    assert len(demo.frames["Interactions"]) == 10_000
    assert len(generate_demo(40, interactions=7, today=TODAY).frames["Interactions"]) == 7


@pytest.mark.parametrize("customers", [1, 9, 2000])
def test_references_resolve(customers: int, demo: DemoData) -> None:
    frames = demo.frames if customers == 2000 else generate_demo(customers, today=TODAY).frames
    for sheet in SCHEMA.entities:
        for f in sheet.fields:
            if f.ref:
                used = frames[sheet.name][f.name].dropna()
                known = frames[f.ref][SCHEMA.sheet(f.ref).key]
                assert used.isin(known).all(), (sheet.name, f.name)


def test_referrals_point_back_to_earlier_customers_of_a_referral_source(demo: DemoData) -> None:
    customers, sources = demo.frames["Customers"], demo.frames["Sources"]
    referred = customers.dropna(subset=["referred_by"])
    assert len(referred) > 20
    assert (referred["referred_by"] < referred["id"]).all()
    channel = referred["source"].map(sources.set_index("name")["channel"])
    assert (channel == "referral").all()


def test_choices_come_from_the_vocabularies(demo: DemoData) -> None:
    for sheet in SCHEMA.entities:
        for f in sheet.fields:
            if f.vocabulary:
                allowed = SCHEMA.vocabulary(f.vocabulary).values or demo.owners
                used = demo.frames[sheet.name][f.name].dropna()
                assert used.isin(allowed).all(), (sheet.name, f.name, set(used) - set(allowed))
    assert set(demo.frames["Customers"]["owner"]) == set(demo.owners)


def test_required_fields_are_filled_and_keys_unique(demo: DemoData) -> None:
    for sheet in SCHEMA.entities:
        frame = demo.frames[sheet.name]
        assert len(frame), sheet.name
        for f in sheet.fields:
            if f.required:
                assert frame[f.name].notna().all(), (sheet.name, f.name)
        assert frame[sheet.key].is_unique, sheet.name
        if sheet.id_prefix:
            expected = [f"{sheet.id_prefix}-{i:06d}" for i in range(1, len(frame) + 1)]
            assert frame["id"].tolist() == expected


def test_column_types_follow_the_schema(demo: DemoData) -> None:
    for sheet in SCHEMA.entities:
        frame = demo.frames[sheet.name]
        for f in sheet.fields:
            column = frame[f.name]
            if f.type in ("date", "datetime"):
                assert pd.api.types.is_datetime64_dtype(column), (sheet.name, f.name)
                unit = "D" if f.type == "date" else "min"
                assert (column.dropna() == column.dropna().dt.floor(unit)).all()
            elif f.type == "money":
                assert column.dtype == "float64"
            elif f.type == "integer":
                assert column.dtype == "Int64"
            elif f.type == "bool":
                assert column.dtype == "bool"
            else:
                assert column.dropna().map(type).eq(str).all(), (sheet.name, f.name)


def test_dates_tell_a_consistent_story(demo: DemoData) -> None:
    today = pd.Timestamp(TODAY)
    customers, deals, tasks = (demo.frames[s] for s in ("Customers", "Deals", "Tasks"))
    assert (customers["updated"] >= customers["created"]).all()
    assert customers["created"].between(today - pd.Timedelta(days=731), today).all()
    assert (customers["birthday"].dropna() < today).all()
    assert (customers["consent_date"].dropna() <= today).all()
    closed = deals["stage"].isin(["won", "lost"])
    assert deals.loc[closed, "closed"].notna().all() and deals.loc[~closed, "closed"].isna().all()
    assert (deals.loc[closed, "closed"] >= deals.loc[closed, "opened"]).all()
    assert deals.loc[deals["stage"] == "lost", "lost_reason"].notna().all()
    assert (demo.frames["Sales"]["date"] <= today).all()
    assert tasks.loc[tasks["status"] == "done", "done_on"].notna().all()
    assert tasks.loc[tasks["status"] != "done", "done_on"].isna().all()
    due = tasks.loc[tasks["status"] == "open", "due"]
    assert (due < today).any() and (due == today).any() and (due > today).any()
    when = demo.frames["Interactions"]["when"]
    assert 0 < (when > today).mean() < 0.02


def test_every_deal_stage_and_sales_follow_the_loyalty_ladder(demo: DemoData) -> None:
    assert set(demo.frames["Deals"]["stage"]) == set(SCHEMA.vocabulary("deal_stage").values)
    customers = demo.frames["Customers"]
    assert set(customers["stage"]) == set(SCHEMA.vocabulary("stage").values)
    sales = demo.frames["Sales"].groupby("customer_id").size()
    bought = customers["id"].map(sales).fillna(0).groupby(customers["stage"]).mean()
    assert bought["prospect"] == bought["potential"] == 0
    assert bought["customer"] < bought["repeat"] < bought["loyal"] < bought["promoter"]
    assert demo.frames["Sales"]["deal_id"].notna().any()


def test_unicode_names_and_birthdays_for_reminders(demo: DemoData) -> None:
    customers = demo.frames["Customers"]
    names = set(customers["name"])
    for name in (
        "דוד כהן",
        "Иванов Сергей Викторович",
        "Ivanov Sergey V.",
        "José Müller-Lüdenscheid",
        "Zoë Ørsted",
    ):
        assert name in names
    birthday = customers["birthday"].dropna()
    assert ((birthday.dt.month == 2) & (birthday.dt.day == 29)).any()
    coming = {(d.month, d.day) for d in pd.date_range(TODAY, periods=15)}
    assert sum((d.month, d.day) in coming for d in birthday) >= 5
    assert (
        customers.loc[customers["kind"] == "company", "id"]
        .isin(demo.frames["Contacts"]["customer_id"])
        .all()
    )


def test_consent_shares_are_believable(demo: DemoData) -> None:
    customers = demo.frames["Customers"]
    assert 0.5 < customers["consent_email"].mean() < 0.7
    assert 0.3 < customers["consent_sms"].mean() < 0.5
    consented = customers["consent_email"] | customers["consent_sms"]
    assert customers.loc[consented, "consent_date"].notna().all()
    assert customers.loc[customers["consent_email"], "email"].notna().all()


def test_templates_only_use_customer_columns() -> None:
    frames = generate_demo(10, today=TODAY).frames
    templates = frames["Templates"]
    assert sorted(templates["channel"]) == ["email", "email", "email", "sms"]
    columns = set(SCHEMA.sheet("Customers").columns)
    for text in pd.concat([templates["subject"].dropna(), templates["body"]]):
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields and fields <= columns, text
    assert len(frames["Competitors"]) == 4


@pytest.fixture(scope="module")
def shop() -> DemoData:
    """The demo of `make demo`: 600 customers."""
    return generate_demo(600, today=TODAY)


def test_reminders_are_a_few_dozen_a_day_and_overdue_ones_days_to_weeks_old(shop) -> None:
    found = reminders(shop.frames, TODAY, days=7)
    late = found[found["overdue_days"] > 0]
    ahead = found[found["overdue_days"] == 0]
    per_day = ahead["when"].dt.normalize().value_counts()
    assert len(per_day) == 8 and per_day.between(8, 60).all(), per_day.sort_index().tolist()
    assert 100 <= len(found) <= 300
    assert late["overdue_days"].max() <= 28
    assert len(late) < 0.4 * len(found)
    assert set(found["kind"]) == set(KINDS)


def test_most_promised_follow_ups_were_done(shop) -> None:
    talks = shop.frames["Interactions"]
    promised = talks[talks["next_date"] < pd.Timestamp(TODAY)]
    last = talks[talks["when"] < pd.Timestamp(TODAY)].groupby("customer_id")["when"].max()
    followed = last.reindex(promised["customer_id"]).to_numpy() > promised["when"].to_numpy()
    assert len(promised) > 200 and followed.mean() > 0.95
    recent = talks["when"].between(pd.Timestamp(TODAY) - pd.Timedelta(days=21), pd.Timestamp(TODAY))
    assert talks.loc[recent, "next_step"].notna().mean() > 0.5


def test_customers_due_for_contact_are_few_days_late_at_most(shop) -> None:
    due = contact_due_reminders(shop.frames["Customers"], shop.frames["Interactions"], TODAY, 30)
    assert len(due) > 30 and due["overdue_days"].max() <= 14


def test_open_deals_at_every_stage_close_in_the_coming_months(shop) -> None:
    deals = shop.frames["Deals"]
    open_ = deals[~deals["stage"].isin(["won", "lost"])]
    assert set(open_["stage"]) == {"new", "qualified", "proposal", "negotiation"}
    ahead = (open_["expected_close"] - pd.Timestamp(TODAY)).dt.days
    assert (ahead >= -14).all() and ahead.median() > 14
    months = forecast(deals, TODAY, months=6)
    assert (months["expected"] > 0).all(), months
    assert months["deals"].sum() > 0.8 * len(open_)
    soon = open_.groupby("stage")["expected_close"].median()
    assert soon["negotiation"] < soon["proposal"] < soon["new"]


def test_a_demo_build_killed_half_way_leaves_nothing_under_its_name(tmp_path) -> None:
    """`crmbook demo` killed once its book exists in the draft folder: no empty or
    half-written shop.xlsx (which the next run would take for the real one), no leftovers."""
    drafts, folder = tmp_path / "tmp", tmp_path / "shop"
    drafts.mkdir()
    env = {**os.environ, "TMPDIR": str(drafts)}
    argv = [sys.executable, "-m", "crmbook", "demo", str(folder / "shop.xlsx")]
    build = subprocess.Popen([*argv, "--customers", "20000"], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list(drafts.glob("crmbook-demo-*/*.xlsx")) and build.poll() is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        build.kill()
        build.wait()
    assert build.returncode == -signal.SIGKILL  # killed while it was still building
    assert not (folder / "shop.xlsx").exists()
    assert not folder.exists() or not list(folder.iterdir())
    subprocess.run([*argv, "--customers", "30"], env=env, check=True, capture_output=True)
    assert (folder / "shop.xlsx").exists()  # the next run builds it without --force


def test_the_demo_goes_into_a_sqlite_database_named_by_its_url(tmp_path) -> None:
    """`crmbook demo sqlite:///shop.db` writes the business into the database (a workbook
    build in a temporary folder took the URL for a file name)."""
    from click.testing import CliRunner

    import crmbook
    from crmbook.cli import main

    url = f"sqlite:///{tmp_path / 'shop.db'}"
    args = ["demo", url, "--customers", "40", "--today", "2026-06-01"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    book = crmbook.open(url)
    assert len(book.customers.df) == 40 and len(book.interactions.df) == 200
    assert not list(tmp_path.glob("*.xlsx"))
