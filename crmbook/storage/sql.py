"""A crmbook database through SQLAlchemy 2: SQLite as the embedded case, PostgreSQL for a team.

The tables come from the same schema as the workbook's sheets: one table per sheet, named
in lower case (customers, interactions, ...), one column per field, the key as primary key,
references as foreign keys (checked at commit, so records may refer to each other), closed
vocabularies as CHECK constraints, required fields NOT NULL. Around them: `crmbook_meta`
(the workbook's hidden sheet), `crmbook_lists` (the Lists sheet), `crmbook_counters` (the next
id of each sheet, handed out under a row lock so two people never get the same id) and `log`
(the change log). Every table keeps `row_no`, the order records were added in, so a
workbook exported again lists them as before. The columns a person added to a sheet live
beside the tables (storage/sql_user_columns.py).

A save is one transaction that inserts the new records, deletes the deleted ones and updates
only the fields that changed, each only if it still holds the value that was read: two people
changing different fields of one customer both keep their change; the same field changed by
both is refused for the second with a message, and nothing of that save is stored.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from crmbook.errors import CrmbookError, NotAWorkbookError, SaveRefusedError
from crmbook.io.reader import RawSheet
from crmbook.io.scrub import pattern, scrub
from crmbook.languages import ENGLISH
from crmbook.lists import lists_columns
from crmbook.schema import SCHEMA_VERSION, Schema, Sheet
from crmbook.storage import sql_user_columns as own_columns
from crmbook.storage.base import Saved, Storage
from crmbook.storage.changes import Changes, SheetChanges
from crmbook.storage.sql_journal import OUTBOX_TABLE, SqlJournal
from crmbook.values import missing

META_TABLE = "crmbook_meta"
LISTS_TABLE = "crmbook_lists"
COUNTERS_TABLE = "crmbook_counters"
ORDER = "row_no"
BATCH = 20_000  # records per INSERT batch (and progress step)

SQL_TYPES: dict[str, sa.types.TypeEngine] = {
    "id": sa.Text(),
    "text": sa.Text(),
    "longtext": sa.Text(),
    "email": sa.Text(),
    "phone": sa.Text(),
    "choice": sa.Text(),
    "tags": sa.Text(),
    "date": sa.Date(),
    "datetime": sa.DateTime(),
    # Excel keeps every number as a binary double, so a double keeps every amount exactly as
    # the workbook had it: the round trip workbook -> database -> workbook loses nothing.
    "money": sa.Double(),
    "integer": sa.BigInteger(),
    "bool": sa.Boolean(),
}

_SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite counts INTEGER keys only

# meta keys that belong to one workbook file and mean nothing in a database
FILE_ONLY_META = (
    "lineage",
    "fingerprints.",
    "fingerprint_fields.",
    "generation",
    "sheet.",
    "next_id.",
)

Progress = Callable[[str, int, int], None]  # sheet, records done, records in all


def table_name(sheet: Sheet) -> str:
    return sheet.name.lower()


def database_url(location: str) -> URL:
    """The SQLAlchemy URL for what a person typed: postgresql:// means psycopg 3."""
    try:
        url = make_url(location.strip())
    except sa.exc.ArgumentError as e:
        raise CrmbookError(f"{location!r} is not a database URL ({e})") from None
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def metadata(
    schema: Schema, lists: dict[str, list[str]] | None = None, *, references: bool = True
) -> sa.MetaData:
    """The tables of a crmbook database, from the schema.

    `lists` (the Lists sheet) gives the values the CHECK constraints of the closed
    vocabularies allow; without it the tables are described for reading and writing only.
    references=False leaves out the foreign keys (added after a bulk load: create_database).
    """
    md = sa.MetaData()
    for sheet in schema.sheets:
        name = table_name(sheet)
        columns: list[sa.SchemaItem] = []
        if sheet.system:
            columns.append(sa.Column("seq", _SERIAL, primary_key=True, autoincrement=True))
        for f in sheet.fields:
            args: list[sa.SchemaItem] = []
            if f.ref and references:
                target = schema.sheet(f.ref)
                args.append(
                    sa.ForeignKey(
                        f"{table_name(target)}.{target.key}",
                        name=f"fk_{name}_{f.name}",
                        deferrable=True,
                        initially="DEFERRED",
                    )
                )
            is_key = f.name == sheet.key
            columns.append(
                sa.Column(
                    f.name,
                    SQL_TYPES[f.type],
                    *args,
                    primary_key=is_key,
                    nullable=not (f.required or is_key),
                    comment=f.help or None,
                )
            )
            vocabulary = schema.vocabulary(f.vocabulary) if f.vocabulary else None
            if lists is not None and vocabulary is not None and not vocabulary.open:
                allowed = lists.get(vocabulary.name) or list(vocabulary.values)
                columns.append(
                    sa.CheckConstraint(
                        sa.column(f.name).in_(allowed), name=f"ck_{name}_{f.name}_{vocabulary.name}"
                    )
                )
        columns.append(sa.Column(ORDER, sa.BigInteger, nullable=False, index=True))
        sa.Table(name, md, *columns, comment=sheet.help or None)
    sa.Table(
        META_TABLE,
        md,
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("value", sa.Text),
    )
    sa.Table(
        LISTS_TABLE,
        md,
        sa.Column("vocabulary", sa.Text, primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    sa.Table(
        COUNTERS_TABLE,
        md,
        sa.Column("sheet", sa.Text, primary_key=True),
        sa.Column("next_id", sa.BigInteger, nullable=False),
    )
    own_columns.define(md)
    return md


def make_engine(url: URL) -> Engine:
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_settings(connection, _record) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")  # SQLite checks references only when asked
            cursor.execute("PRAGMA busy_timeout=10000")  # wait for another writer, not fail
            cursor.close()

    return engine


def create_database(
    location: str,
    schema: Schema,
    *,
    overwrite: bool = False,
    lang: str = "en",
    lists: dict[str, list[str]] | None = None,
    meta: dict[str, object] | None = None,
    bulk_load: bool = False,
) -> SqlStorage:
    """Create the crmbook tables (with their constraints) in an empty database and open it.

    bulk_load: the first save fills the tables (migrate). PostgreSQL then gets the foreign
    keys at the end of that save's transaction, checked in one pass over each table instead
    of one trigger per record (2 million interactions: seconds instead of ~14 s).
    """
    import uuid

    url = database_url(location)
    engine = make_engine(url)
    try:
        existing = set(sa.inspect(engine).get_table_names())
    except OperationalError as e:
        raise CrmbookError(f"cannot reach the database {_shown(url)}: {_reason(e)}") from None
    md_lists = lists or {v.name: list(v.values) for v in schema.vocabularies}
    md = metadata(schema, md_lists)
    ours = existing & set(md.tables)
    if ours and not overwrite:
        raise CrmbookError(
            f"{_shown(url)} holds crmbook tables already ({', '.join(sorted(ours))}); "
            "choose another database or replace it (--force)"
        )
    now = dt.datetime.now().replace(microsecond=0)
    values = {
        "schema_version": schema.version,
        "workbook_id": uuid.uuid4().hex,
        "created": now.isoformat(timespec="seconds"),
        **({"language": lang} if lang != "en" else {}),
        **{k: v for k, v in (meta or {}).items() if not str(k).startswith(FILE_ONLY_META)},
    }
    later = bulk_load and engine.dialect.name == "postgresql"
    created = metadata(schema, md_lists, references=False) if later else md
    with engine.begin() as conn:
        if ours:
            md.drop_all(conn)
        created.create_all(conn)
        conn.execute(
            md.tables[META_TABLE].insert(),
            [{"key": str(k), "value": _text(v)} for k, v in values.items()],
        )
        conn.execute(
            md.tables[COUNTERS_TABLE].insert(),
            [
                {"sheet": s.name, "next_id": int((meta or {}).get(f"next_id.{s.name}", 1) or 1)}
                for s in schema.sheets
                if s.id_prefix
            ],
        )
        given = lists or {v.name: list(v.values) for v in schema.vocabularies}
        _write_lists(conn, md, lists_columns(schema, given, {}, ENGLISH))
    engine.dispose()
    storage = SqlStorage(location, schema)
    if later:
        storage.references_to_add = [
            fk for table in md.sorted_tables for fk in table.foreign_key_constraints
        ]
    return storage


class SqlStorage(Storage):
    """A crmbook database at a SQLAlchemy URL."""

    guards_ids = True
    user_columns = True

    def __init__(self, location: str, schema: Schema):
        super().__init__(schema)
        self.url = database_url(location)
        self.kind = "postgresql" if self.url.get_backend_name() == "postgresql" else "sqlite"
        file = self.url.database if self.kind == "sqlite" else None
        if file not in (None, "", ":memory:") and not Path(file).is_file():
            raise NotAWorkbookError(
                f"{file} does not exist; make the database first "
                "(crmbook migrate shop.xlsx sqlite:///... or crmbook init sqlite:///...)"
            )
        self.engine = make_engine(self.url)
        self.md = metadata(schema)
        self.progress: Progress | None = None
        self.references_to_add: list[sa.ForeignKeyConstraint] = []
        try:
            present = set(sa.inspect(self.engine).get_table_names())
        except OperationalError as e:
            raise NotAWorkbookError(f"cannot open {self.location}: {_reason(e)}") from None
        if META_TABLE not in present:
            raise NotAWorkbookError(
                f"{self.location} has no crmbook tables; copy a workbook into it first "
                "(crmbook migrate shop.xlsx DATABASE-URL)"
            )
        self._present = present
        self._upgrade_tables()

    def __repr__(self) -> str:
        return f"<SqlStorage {self.location}>"

    @property
    def location(self) -> str:
        return _shown(self.url)

    @property
    def path(self) -> Path:
        if self.kind == "sqlite" and self.url.database:
            return Path(self.url.database).absolute()
        return Path.cwd() / f"{self.url.database or 'crmbook'}.{self.kind}"

    @property
    def sheet_names(self) -> list[str]:
        named = {table_name(s): s.name for s in self.schema.sheets}
        named |= {META_TABLE: self.schema.meta_sheet, LISTS_TABLE: self.schema.lists_sheet}
        return [named[t] for t in named if t in self._present] + sorted(
            t
            for t in self._present
            if t not in named and t not in (COUNTERS_TABLE, OUTBOX_TABLE, *own_columns.TABLES)
        )

    # ------------------------------------------------------------ reading

    def read(self, name: str) -> RawSheet:
        if name == self.schema.meta_sheet:
            return self._read_meta()
        if name == self.schema.lists_sheet:
            return self._read_lists()
        sheet = self._sheet(name)
        if sheet is None:
            return self._read_other(name)
        table = self.md.tables[table_name(sheet)]
        columns = [table.c[f.name] for f in sheet.fields]
        query = sa.select(*columns).order_by(table.c[ORDER], *table.primary_key.columns)
        if self.kind == "postgresql":
            frame = self._fetch_arrow(query)
        else:
            with self.engine.connect() as conn:
                frame = pd.read_sql(query, conn)
        for f in sheet.fields:
            if f.type in ("date", "datetime") and f.name in frame:
                frame[f.name] = pd.to_datetime(frame[f.name]).astype("datetime64[us]")
        if self._keeps_own_columns():
            with self.engine.connect() as conn:
                frame = own_columns.read(conn, self.md, sheet, frame)
        return _raw_sheet(name, frame)

    def _fetch_arrow(self, query) -> pd.DataFrame:
        """PostgreSQL's rows straight into Arrow columns (ADBC: binary COPY, in C++)."""
        import adbc_driver_postgresql.dbapi as adbc
        import pyarrow as pa

        sql = str(
            query.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True})
        )
        uri = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with adbc.connect(uri) as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            table = cursor.fetch_arrow_table()
        return table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)

    def _read_meta(self) -> RawSheet:
        meta, counters = self.md.tables[META_TABLE], self.md.tables[COUNTERS_TABLE]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(meta.c.key, meta.c.value)).all()
            rows += [
                (f"next_id.{sheet}", number)
                for sheet, number in conn.execute(sa.select(counters.c.sheet, counters.c.next_id))
            ]
        frame = pd.DataFrame(rows, columns=["key", "value"], dtype=object)
        return _raw_sheet(self.schema.meta_sheet, frame)

    def _read_lists(self) -> RawSheet:
        lists = self.md.tables[LISTS_TABLE]
        query = sa.select(lists.c.vocabulary, lists.c.value).order_by(
            lists.c.vocabulary, lists.c.position
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        found: dict[str, list[str]] = {}
        for vocabulary, value in rows:
            found.setdefault(vocabulary, []).append(value)
        frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in found.items()})
        return _raw_sheet(self.schema.lists_sheet, frame)

    def _read_other(self, name: str) -> RawSheet:
        if name not in self._present:
            return RawSheet.empty(name)
        with self.engine.connect() as conn:
            frame = pd.read_sql_table(name, conn)
        return _raw_sheet(name, frame)

    def columns(self, name: str) -> list[str]:
        sheet = self.schema.sheet(name)
        if not self._keeps_own_columns():
            return list(sheet.columns)
        with self.engine.connect() as conn:
            return [*sheet.columns, *own_columns.headings(conn, self.md, sheet.name)]

    def _keeps_own_columns(self) -> bool:
        """Whether the database has the user columns' tables (one made before them has not,
        until its next save)."""
        return set(own_columns.TABLES) <= self._present

    def keys(self, name: str) -> np.ndarray:
        sheet = self.schema.sheet(name)
        table = self.md.tables[table_name(sheet)]
        with self.engine.connect() as conn:
            values = conn.execute(sa.select(table.c[sheet.key])).scalars().all()
        return np.array([v for v in values if not missing(v)], dtype=object)

    def _sheet(self, name: str) -> Sheet | None:
        try:
            sheet = self.schema.sheet(name)
        except KeyError:
            return None
        return sheet if sheet.name == name else None

    # ------------------------------------------------------------ ids

    def bump_counter(self, sheet: Sheet, number: int) -> None:
        counters = self.md.tables[COUNTERS_TABLE]
        with self.engine.begin() as conn:
            conn.execute(
                counters.update()
                .where(counters.c.sheet == sheet.name, counters.c.next_id <= number)
                .values(next_id=number + 1)
            )

    def reserve_ids(self, sheet: Sheet, n: int, next_id: int) -> int:
        """Taken at once in a transaction of its own, under the counter row's lock, so two
        people adding records at the same moment never get the same id."""
        counters = self.md.tables[COUNTERS_TABLE]
        with self.engine.begin() as conn:
            end = conn.execute(
                counters.update()
                .where(counters.c.sheet == sheet.name)
                .values(next_id=counters.c.next_id + n)
                .returning(counters.c.next_id)
            ).scalar_one()
        return end - n

    # ------------------------------------------------------------ saving

    def save(
        self, changes: Changes, target: Path | None = None, *, force: bool = False, backups: int = 3
    ) -> Saved:
        """One transaction. The id counters are stored already (reserve_ids, bump_counter);
        `force` and `backups` mean nothing here: each field is checked on its own instead."""
        if target is not None:
            raise CrmbookError(
                f"{self.location} is a database: changes are saved into it. To write a "
                "workbook from it use crmbook export (crmbook.sharing.migrate.copy_book)"
            )
        try:
            with self.engine.begin() as conn:
                if not self._keeps_own_columns():
                    for name in own_columns.TABLES:
                        self.md.tables[name].create(conn, checkfirst=True)
                if changes.lists is not None:  # first: PostgreSQL alters checks before new rows
                    numbers = changes.list_numbers or {}
                    stored = lists_columns(self.schema, changes.lists, numbers, ENGLISH)
                    self._save_lists(conn, stored)
                for sheet in self.schema.reference_order():
                    changed = changes.sheets.get(sheet.name)
                    if changed:
                        self._apply(conn, sheet, changed)
                if changes.meta is not None:
                    self._save_meta(conn, changes.meta)
                for new in changes.new_sheets:
                    new.frame.to_sql(new.name, conn, if_exists="replace", index=False)
                    self._present.add(new.name)
                found = pattern(changes.forget)
                if found is not None:
                    self._scrub_log(conn, found)
                if changes.log:
                    lines = pd.DataFrame(list(changes.log)).map(lambda v: scrub(v, found))
                    self.insert(conn, self.schema.sheet("Log"), lines)
                for reference in self.references_to_add:
                    conn.execute(sa.schema.AddConstraint(reference))
            self.references_to_add = []
            self._present |= set(own_columns.TABLES)
        except IntegrityError as e:
            reason = _reason(e)
            hint = (
                " A record that others refer to cannot be deleted: re-point or delete those first."
                if "foreign key" in reason.lower()
                else ""
            )
            raise CrmbookError(
                f"the database refused the change, so nothing was saved: {reason}.{hint}"
            ) from None
        except OperationalError as e:
            raise SaveRefusedError(
                f"cannot save to {self.location}: {_reason(e)}; nothing was saved"
            ) from None
        self._meta = self.meta_after(changes)
        return Saved(self.path, dict(self._meta))

    def _scrub_log(self, conn: Connection, found: re.Pattern) -> None:
        """Replace an erased person's name, email and phone in the change log's lines."""
        table = self.md.tables[table_name(self.schema.sheet("Log"))]
        texts = [c for c in table.columns if isinstance(c.type, sa.Text)]
        for row in conn.execute(sa.select(table.c.seq, *texts)).mappings():
            new = {c.name: scrub(row[c.name], found) for c in texts}
            changed = {k: v for k, v in new.items() if v != row[k]}
            if changed:
                conn.execute(table.update().where(table.c.seq == row["seq"]).values(changed))

    def _apply(self, conn: Connection, sheet: Sheet, changed: SheetChanges) -> None:
        """Deletions, then each changed field if it still holds the value read, then the new
        records. (A database never holds a record without its key, so no id is given here.)"""
        table = self.md.tables[table_name(sheet)]
        key = table.c[sheet.key]
        deleted = list(changed.deleted)
        for start in range(0, len(deleted), BATCH):
            conn.execute(table.delete().where(key.in_(deleted[start : start + BATCH])))
        for record, changes_of_record in changed.updated.items():
            fields = {n: v for n, v in changes_of_record.items() if sheet.has(n)}
            if not fields:  # only the sheet's own columns changed: own_columns.save
                continue
            checked = [
                table.c[name].is_not_distinct_from(_value(sheet, name, old))
                for name, (old, _) in fields.items()
                if name != "updated"
            ]
            result = conn.execute(
                table.update()
                .where(key == record, *checked)
                .values({name: _value(sheet, name, new) for name, (_, new) in fields.items()})
            )
            if result.rowcount == 0:
                old = {name: value for name, (value, _) in fields.items()}
                raise SaveRefusedError(self._conflict(conn, sheet, record, old))
        if len(changed.appended):
            self.insert(conn, sheet, changed.appended)
        own_columns.save(
            conn,
            self.md,
            sheet,
            changed.added_columns,
            changed.updated,
            deleted,
            changed.appended,
        )

    def _conflict(self, conn: Connection, sheet: Sheet, record: str, old: dict) -> str:
        table = self.md.tables[table_name(sheet)]
        now = conn.execute(sa.select(table).where(table.c[sheet.key] == record)).mappings().first()
        if now is None:
            return (
                f"{sheet.entity} {record} was deleted by someone else since it was read; "
                "nothing was saved. Open it again to see the current records."
            )
        changed = [
            name
            for name, value in old.items()
            if name != "updated" and _value(sheet, name, value) != now[name]
        ]
        return (
            f"{', '.join(changed)} of {sheet.entity} {record} changed since it was read (someone "
            "else saved first), so nothing was saved. Open it again and make the change there."
        )

    def insert(
        self, conn: Connection, sheet: Sheet, frame: pd.DataFrame, *, start: int | None = None
    ) -> None:
        """Add records at the end (batched; PostgreSQL streams them with COPY)."""
        table = self.md.tables[table_name(sheet)]
        names = [f.name for f in sheet.fields if f.name in frame]
        if start is None:
            start = conn.execute(
                sa.select(sa.func.coalesce(sa.func.max(table.c[ORDER]), 0))
            ).scalar()
        total = len(frame)
        for begin in range(0, total, BATCH):
            end = min(begin + BATCH, total)
            part = frame.iloc[begin:end]
            order = list(range(start + begin + 1, start + end + 1))
            if self.kind == "postgresql":
                _copy_in(conn, table, sheet, part, order)
            else:
                columns = {name: _python(sheet, name, part[name]) for name in names}
                columns[ORDER] = order
                rows = zip(*columns.values(), strict=True)
                conn.execute(table.insert(), [dict(zip(columns, r, strict=True)) for r in rows])
            if self.progress:
                self.progress(sheet.name, end, total)

    def _save_lists(self, conn: Connection, lists: dict[str, list]) -> None:
        conn.execute(self.md.tables[LISTS_TABLE].delete())
        _write_lists(conn, self.md, lists)
        if self.kind == "postgresql":  # the checks follow the lists (SQLite cannot alter them)
            checked = metadata(self.schema, lists)
            for table in checked.sorted_tables:
                for check in table.constraints:
                    if isinstance(check, sa.CheckConstraint) and check.name:
                        conn.execute(sa.schema.DropConstraint(check, if_exists=True))
                        conn.execute(sa.schema.AddConstraint(check))

    def _save_meta(self, conn: Connection, meta: dict) -> None:
        table = self.md.tables[META_TABLE]
        keep = {str(k): _text(v) for k, v in meta.items() if not str(k).startswith(FILE_ONLY_META)}
        conn.execute(table.delete().where(table.c.key.in_(list(keep))))
        if keep:
            conn.execute(table.insert(), [{"key": k, "value": v} for k, v in keep.items()])

    def _upgrade_tables(self) -> None:
        """A database made by an older crmbook gains the tables and columns it lacks."""
        version = _version(self.engine, self.md)
        if version > SCHEMA_VERSION:
            raise NotAWorkbookError(
                f"{self.location} was made by a newer crmbook (schema version {version}); "
                "update crmbook (pip install -U crmbook) to open it; nothing was changed."
            )
        if version == SCHEMA_VERSION:
            return
        inspector = sa.inspect(self.engine)
        with self.engine.begin() as conn:
            self.md.create_all(conn, checkfirst=True)
            for table in self.md.sorted_tables:
                if table.name not in self._present:
                    continue
                have = {c["name"] for c in inspector.get_columns(table.name)}
                for column in table.columns:
                    if column.name not in have:
                        kind = column.type.compile(self.engine.dialect)
                        conn.execute(
                            sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}")
                        )
            self._add_list_numbers(conn)
            meta = self.md.tables[META_TABLE]
            conn.execute(meta.delete().where(meta.c.key == "schema_version"))
            conn.execute(meta.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
        self._present = set(sa.inspect(self.engine).get_table_names())

    def _add_list_numbers(self, conn: Connection) -> None:
        """The numbers beside a list (each deal stage's probability) that a database made by
        an older crmbook lacks: the defaults, on the rows of the values stored."""
        table = self.md.tables[LISTS_TABLE]
        query = sa.select(table.c.vocabulary, table.c.value).order_by(
            table.c.vocabulary, table.c.position
        )
        stored: dict[str, list[str]] = {}
        for name, value in conn.execute(query):
            stored.setdefault(name, []).append(value)
        missing = {
            v.name: stored[v.name]
            for v in self.schema.vocabularies
            if v.numbers and v.name in stored and v.numbers.name not in stored
        }
        if missing:
            columns = lists_columns(self.schema, missing, {}, ENGLISH)
            _write_lists(conn, self.md, {k: v for k, v in columns.items() if k not in stored})

    def discard(self) -> None:
        self.md.drop_all(self.engine)
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def reopen(self) -> SqlStorage:
        return SqlStorage(self.url.render_as_string(hide_password=False), self.schema)

    def journal(self) -> SqlJournal:
        """The outbox journal in the database itself, so that every machine sending from
        it sees the others' messages (storage/sql_journal.py)."""
        return SqlJournal(self.engine, self.location, legacy_book_file=self.path)


def _write_lists(conn: Connection, md: sa.MetaData, lists: dict[str, list]) -> None:
    """The Lists sheet as rows: each column by its heading, each value at its position (the
    numbers beside a list, a stage's probability, as text)."""
    rows = [
        {"vocabulary": name, "position": position, "value": _text(value)}
        for name, values in lists.items()
        for position, value in enumerate(values)
    ]
    if rows:
        conn.execute(md.tables[LISTS_TABLE].insert(), rows)


def _version(engine: Engine, md: sa.MetaData) -> int:
    meta = md.tables[META_TABLE]
    with engine.connect() as conn:
        value = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return SCHEMA_VERSION


def _raw_sheet(name: str, frame: pd.DataFrame) -> RawSheet:
    frame = frame.reset_index(drop=True)
    rows = pd.Series([None] * len(frame), dtype=object)  # a database has no row numbers
    return RawSheet(name, 1, [str(c) for c in frame.columns], frame, rows)


def _python(sheet: Sheet, name: str, column: pd.Series) -> list:
    """A frame column as the Python values the database driver takes (None for blanks)."""
    return _arrow(sheet.field(name).type, column).to_pylist()


def _arrow(kind: str, column: pd.Series):
    """A frame column as an Arrow array of the column's SQL type (nulls for blanks)."""
    import pyarrow as pa

    if kind in ("date", "datetime"):
        values = pd.to_datetime(column, errors="coerce").astype("datetime64[us]")
        array = pa.array(values, from_pandas=True, type=pa.timestamp("us"))
        return array.cast(pa.date32(), safe=False) if kind == "date" else array
    if kind == "money":
        return pa.array(pd.to_numeric(column, errors="coerce"), from_pandas=True, type=pa.float64())
    if kind == "integer":
        return pa.array(column.astype("Int64"), from_pandas=True, type=pa.int64())
    if kind == "bool":
        return pa.array(column.astype("boolean"), from_pandas=True, type=pa.bool_())
    return pa.array(column.astype("string"), from_pandas=True, type=pa.string())


def _value(sheet: Sheet, name: str, value: object) -> object:
    """One value as the driver takes it (and as it comes back, for comparing)."""
    if not sheet.has(name):
        return value
    return _python(sheet, name, pd.Series([value], dtype=object))[0]


def _copy_in(
    conn: Connection, table: sa.Table, sheet: Sheet, frame: pd.DataFrame, order: list[int]
) -> None:
    """Records as CSV written by Arrow (every value quoted, blanks unquoted: NULL), streamed
    by COPY FROM STDIN in this transaction: no Python work per value."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f.name for f in sheet.fields if f.name in frame]
    arrays = [_arrow(sheet.field(name).type, frame[name]) for name in names]
    data = pa.table([*arrays, pa.array(order, type=pa.int64())], names=[*names, ORDER])
    buffer = io.BytesIO()
    pacsv.write_csv(
        data, buffer, pacsv.WriteOptions(include_header=False, quoting_style="all_valid")
    )
    columns = ", ".join(f'"{n}"' for n in data.column_names)
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN WITH (FORMAT csv)') as copy:
        copy.write(buffer.getbuffer())


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value)


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True).replace(
        "postgresql+psycopg://", "postgresql://"
    )


def _reason(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig else str(error)
