"""Span's unique key gains start_time; on PostgreSQL traces_span becomes a table partitioned by start_time.

PostgreSQL only (connection.vendor): the table is converted in place, in this migration's one transaction (run it
with ingestion stopped; it needs room for a second copy of the table until it commits):
1. a partitioned table shaped like traces_span (LIKE: same columns, defaults, identity, storage), its primary key
   (id, start_time) and unique key (project_id, span_id, start_time) (both must hold the partition key), its
   other indexes and foreign keys copied from the old table's definitions;
2. weekly partitions from the oldest span's week (or 400 days ago, whichever is later) to 4 weeks ahead, and a
   default partition for the rest;
3. rows moved in batches of 50,000 by id; the identity sequence set past the highest id;
4. the foreign keys other tables hold on traces_span(id) are dropped (evals_score.span_id,
   annotations_queueitem.span_id): a partitioned table's id alone cannot be unique, so nothing can reference it.
   Django still deletes those rows with their span (on_delete=CASCADE is Django's, not the database's);
5. the old table dropped, the new one and its indexes and constraints renamed to the old names.

Reversible: backwards does the same into a plain table (primary key id, unique (project_id, span_id)) and puts
the foreign keys back. It fails, as it should, when two rows share a span id (which the partitioned key allows
for a span re-sent under another trace id and with another start time; see traces.services._span_copies_merge).
On SQLite the unique constraint is replaced, nothing else.
"""

import re
from datetime import UTC, datetime, timedelta

from django.db import migrations, models

TABLE = "traces_span"
NEW = "traces_span_new"
BATCH = 50_000
PARTITION_DAYS = 7  # traces.retention.PARTITION_DAYS, copied: a migration must not change with the code
ORIGIN = datetime(1970, 1, 5, tzinfo=UTC)
AHEAD = 4
OLDEST = timedelta(days=400)

NEW_UNIQUE = models.UniqueConstraint(fields=["project", "span_id", "start_time"], name="span_unique")


def _rows(cursor, sql, params=()):
    cursor.execute(sql, params)
    return cursor.fetchall()


def _week(at):
    size = timedelta(days=PARTITION_DAYS)
    lo = ORIGIN + ((at - ORIGIN) // size) * size
    return lo, lo + size


def _definitions(cursor):
    """The old table's indexes (but the primary and unique keys) and its own foreign keys."""
    indexes = _rows(
        cursor,
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND i.relname <> 'span_unique'",
        [TABLE],
    )
    fks = _rows(
        cursor,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
        [TABLE],
    )
    return indexes, fks


def _referencing(cursor):
    return _rows(
        cursor,
        "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE confrelid = %s::regclass AND contype = 'f'",
        [TABLE],
    )


def _copy_and_swap(cursor, *, create_sql, keys_sql, after_create=None):
    indexes, fks = _definitions(cursor)
    for table, name in _referencing(cursor):
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    cursor.execute(create_sql)
    for sql in keys_sql:
        cursor.execute(sql)
    for name, definition in indexes:
        # "CREATE INDEX span_trace ON [ONLY] public.traces_span USING ..." (ONLY: a partitioned table's own index)
        cursor.execute(
            re.sub(rf"INDEX {name} ON (ONLY )?public\.{TABLE} ", f"INDEX {name}_new ON public.{NEW} ", definition)
        )
    for name, definition in fks:
        cursor.execute(f'ALTER TABLE {NEW} ADD CONSTRAINT "{name}_new" {definition}')
    if after_create:
        after_create(cursor)
    cols = ", ".join(
        f'"{c}"'
        for (c,) in _rows(
            cursor,
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped "
            "ORDER BY attnum",
            [TABLE],
        )
    )
    last = 0
    top = _rows(cursor, f"SELECT max(id) FROM {TABLE}")[0][0] or 0
    while last < top:
        cursor.execute(
            f"INSERT INTO {NEW} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {TABLE} WHERE id > %s AND id <= %s",
            [last, last + BATCH],
        )
        last += BATCH
    cursor.execute(f"DROP TABLE {TABLE}")
    cursor.execute(f"ALTER TABLE {NEW} RENAME TO {TABLE}")
    cursor.execute(f"ALTER TABLE {TABLE} RENAME CONSTRAINT {NEW}_pkey TO {TABLE}_pkey")
    cursor.execute(f'ALTER TABLE {TABLE} RENAME CONSTRAINT span_unique_new TO "span_unique"')
    for name, _ in indexes:
        cursor.execute(f'ALTER INDEX "{name}_new" RENAME TO "{name}"')
    for name, _ in fks:
        cursor.execute(f'ALTER TABLE {TABLE} RENAME CONSTRAINT "{name}_new" TO "{name}"')
    seq = _rows(cursor, "SELECT pg_get_serial_sequence(%s, 'id')", [TABLE])[0][0]
    if seq and seq != f"public.{TABLE}_id_seq":
        cursor.execute(f"ALTER SEQUENCE {seq} RENAME TO {TABLE}_id_seq")
    cursor.execute(
        f"SELECT setval(pg_get_serial_sequence('{TABLE}', 'id'), coalesce((SELECT max(id) FROM {TABLE}), 0) + 1, false)"
    )


def _create_partitions(cursor):
    now = datetime.now(UTC)
    oldest = _rows(cursor, f"SELECT min(start_time) FROM {TABLE}")[0][0]
    start = max(oldest or now, now - OLDEST)
    lo, hi = _week(start)
    last = _week(now + timedelta(days=PARTITION_DAYS * AHEAD))[0]
    while lo <= last:
        cursor.execute(
            f"CREATE TABLE {TABLE}_p{lo:%Y%m%d} PARTITION OF {NEW} "
            f"FOR VALUES FROM ('{lo.isoformat()}') TO ('{hi.isoformat()}')"
        )
        lo, hi = hi, hi + timedelta(days=PARTITION_DAYS)
    cursor.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {NEW} DEFAULT")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        _copy_and_swap(
            cursor,
            create_sql=(
                f"CREATE TABLE {NEW} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING STORAGE "
                "INCLUDING COMPRESSION) PARTITION BY RANGE (start_time)"
            ),
            keys_sql=[
                f"ALTER TABLE {NEW} ADD CONSTRAINT {NEW}_pkey PRIMARY KEY (id, start_time)",
                f"ALTER TABLE {NEW} ADD CONSTRAINT span_unique_new UNIQUE (project_id, span_id, start_time)",
            ],
            after_create=_create_partitions,
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    Span = apps.get_model("traces", "Span")
    with schema_editor.connection.cursor() as cursor:
        _copy_and_swap(
            cursor,
            create_sql=(
                f"CREATE TABLE {NEW} (LIKE {TABLE} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING STORAGE "
                "INCLUDING COMPRESSION)"
            ),
            keys_sql=[
                f"ALTER TABLE {NEW} ADD CONSTRAINT {NEW}_pkey PRIMARY KEY (id)",
                f"ALTER TABLE {NEW} ADD CONSTRAINT span_unique_new UNIQUE (project_id, span_id)",
            ],
        )
        # The foreign keys other apps' models declare on Span come back (dropped by forwards).
        for model in apps.get_models():
            for field in model._meta.concrete_fields:
                if field.is_relation and field.related_model is Span and field.db_constraint:
                    table = model._meta.db_table
                    cursor.execute(
                        f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_{field.column}_fk_traces_span" '
                        f'FOREIGN KEY ("{field.column}") REFERENCES {TABLE} (id) DEFERRABLE INITIALLY DEFERRED'
                    )


class NotOnPostgres:
    """A schema operation SQLite (and any other database) runs; on PostgreSQL the conversion does it."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class RemoveConstraintNotOnPostgres(NotOnPostgres, migrations.RemoveConstraint):
    pass


class AddConstraintNotOnPostgres(NotOnPostgres, migrations.AddConstraint):
    pass


class Migration(migrations.Migration):
    # The apps whose tables hold foreign keys on traces_span(id) create them first: forwards drops them.
    dependencies = [("traces", "0012_retention"), ("evals", "0001_initial"), ("annotations", "0001_initial")]

    operations = [
        RemoveConstraintNotOnPostgres(model_name="span", name="span_unique"),
        AddConstraintNotOnPostgres(model_name="span", constraint=NEW_UNIQUE),
        migrations.RunPython(forwards, backwards),
    ]
