"""Copying every record of one database into another (``chatd copy-db``), whichever backends.

``TABLES`` lists every table that holds records, parents before the tables that refer to them;
a migration that adds a table adds its name here, and the copy, both backends' ``dump_table``
and ``load_rows``, and the test that compares every table of a migrated database with this list
follow. ``schema_migrations`` is not copied: the target is migrated to the same version first.

The copy goes table by table, in batches of ``BATCH_ROWS``, each batch one transaction of the
target that keeps rows already there (by primary key). So an interrupted copy is finished by
running it again with ``resume``: nothing is added twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from records import migrations
from records.errors import RecordsError, SchemaMismatch
from records.interface import Records

TABLES: tuple[str, ...] = ("supporters", "shifts", "conversations", "messages", "notes", "sms_optouts", "audit",
                          "program_settings")
BATCH_ROWS = 1000


class TargetNotEmpty(RecordsError):
    """The target of a copy holds records already, and the copy was not asked to resume."""


@dataclass(frozen=True, slots=True)
class TableCopied:
    """One table's figures: rows in the source, rows the copy inserted, rows in the target after."""

    table: str
    source: int
    inserted: int
    target: int


def require_known(table: str) -> str:
    """``table`` when it is one of ``TABLES`` (names are put into SQL); ValueError otherwise."""
    if table not in TABLES:
        raise ValueError(f"not a table of the records: {table!r}")
    return table


async def copy_records(source: Records, target: Records, *, resume: bool = False,
                       batch_rows: int = BATCH_ROWS) -> list[TableCopied]:
    """Copy every row of every table of ``TABLES`` from ``source`` into ``target``.

    The source's schema must be current (SchemaMismatch otherwise: run ``chatd migrate`` on it);
    the target is migrated to the same version first. A target holding any record raises
    :class:`TargetNotEmpty`, unless ``resume`` (finishing an interrupted copy of this source:
    rows already there are kept). Returns one :class:`TableCopied` per table, in ``TABLES`` order;
    the target's count differs from the source's only if the source changed during the copy.
    """
    migrations.require_current(source.dialect, await source.schema_version())
    await target.migrate()
    if await target.schema_version() != migrations.latest(target.dialect):
        raise SchemaMismatch("the target database's schema is not this chatd's after migrating it")
    if not resume:
        for table in TABLES:
            if await target.count_rows(table):
                raise TargetNotEmpty(f"the target database already holds records (table {table}): copy into an "
                                     "empty database, or add --resume to finish an interrupted copy of this one")
    copied: list[TableCopied] = []
    for table in TABLES:
        inserted = 0
        read = 0
        async for batch in source.dump_table(table, batch_rows):
            read += len(batch.rows)
            inserted += await target.load_rows(table, batch)
        copied.append(TableCopied(table, read, inserted, await target.count_rows(table)))
    return copied
