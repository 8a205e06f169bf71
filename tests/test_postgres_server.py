"""The PostgreSQL test fixtures: a working UTF-8 database of each test's own."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from postgres_server import PostgresUnavailable, create_database, drop_database, temporary_server

NAMES = ["Анна Кузнецова", "נועה לוי", "Ivanov S. V."]


def _roundtrip(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE customers (id serial PRIMARY KEY, name text)"))
            conn.execute(
                sa.text("INSERT INTO customers (name) VALUES (:name)"), [{"name": n} for n in NAMES]
            )
        with engine.connect() as conn:
            return list(conn.scalars(sa.text("SELECT name FROM customers ORDER BY id")))
    finally:
        engine.dispose()


def _customer_tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return [t for t in sa.inspect(engine).get_table_names() if t == "customers"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_fresh_database_stores_hebrew_and_cyrillic_text(postgres_url):
    assert sa.make_url(postgres_url).get_backend_name() == "postgresql"
    assert sa.make_url(postgres_url).get_driver_name() == "psycopg"
    assert _roundtrip(postgres_url) == NAMES
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SHOW server_encoding")) == "UTF8"
        assert conn.scalar(sa.text("SELECT upper('ани')")) == "АНИ"
    engine.dispose()


# The two tests below make the same table: whichever runs second would fail on a shared database.
@pytest.mark.postgres
def test_each_test_gets_its_own_database(postgres_url):
    assert _customer_tables(postgres_url) == []
    assert _roundtrip(postgres_url) == NAMES


@pytest.mark.postgres
def test_each_test_gets_its_own_database_too(postgres_url):
    assert _customer_tables(postgres_url) == []
    assert _roundtrip(postgres_url) == NAMES


@pytest.mark.postgres
def test_databases_on_one_server_are_independent(postgres_server):
    first = create_database(postgres_server, "independent_one")
    second = create_database(postgres_server, "independent_two")
    try:
        assert first != second
        assert _roundtrip(first) == NAMES
        assert _customer_tables(second) == []
        assert _roundtrip(second) == NAMES
    finally:
        drop_database(postgres_server, "independent_one")
        drop_database(postgres_server, "independent_two")
    engine = sa.create_engine(postgres_server)
    with engine.connect() as conn:
        left = conn.scalars(sa.text("SELECT datname FROM pg_database WHERE datname LIKE 'indep%'"))
        assert list(left) == []
    engine.dispose()


def test_no_binaries_is_a_clear_reason(monkeypatch, tmp_path):
    monkeypatch.delenv("CRMBOOK_TEST_POSTGRES", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("postgres_server.DEBIAN_BINDIRS", str(tmp_path / "nowhere" / "*"))
    reason = "initdb not found: install Debian's postgresql package"
    with pytest.raises(PostgresUnavailable, match=reason), temporary_server():
        pass


def test_an_unreachable_server_is_a_clear_reason(monkeypatch):
    monkeypatch.setenv("CRMBOOK_TEST_POSTGRES", "postgresql://nobody@127.0.0.1:1/postgres")
    reason = "CRMBOOK_TEST_POSTGRES: cannot connect"
    with pytest.raises(PostgresUnavailable, match=reason), temporary_server():
        pass
