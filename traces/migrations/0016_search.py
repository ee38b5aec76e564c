"""Issue 15: full-text search over span content (traces.search).

PostgreSQL: an IMMUTABLE SQL function `peekr_span_search(<11 columns>) -> tsvector` (configuration `simple`) and a
GIN index `span_search` on it. Nothing is added to the row. traces_span is partitioned (0013): the index on the
parent is created on every partition, and on each partition attached later (traces.partitions). CREATE INDEX on a
partitioned table cannot run CONCURRENTLY: on a large existing install run this migration with ingest stopped (it
takes about 2 minutes per million spans on a 2-core machine).

SQLite: a contentless FTS5 table `traces_span_search` (rowid = traces_span.id) filled from the existing spans, and
three triggers keeping it in sync (insert, update of an indexed column, delete). The text indexed is computed by the
same SQL in all three (FTS5's 'delete' of a contentless row must be given the text it indexed). A later migration
that makes SQLite rebuild traces_span (an AlterField) drops the triggers: tests/traces/test_search_index.py checks
they exist after every migration.

Each field is cut to the caps of traces.search (copied here: a migration must not change with the code).
"""

from django.db import migrations

TEXT_CAP = 40_000
SMALL_CAP = 10_000
METADATA_VALUE_CHARS = 300
HALF = METADATA_VALUE_CHARS // 2  # a POSIX repetition count stops at 255: ".{150}.{150}" is 300 characters

PG_FORWARDS = [
    r"""
CREATE OR REPLACE FUNCTION peekr_json_search(value jsonb, cap integer) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN value IS NULL THEN ''::tsvector
    WHEN pg_column_size(value) <= cap THEN jsonb_to_tsvector('simple'::regconfig, value, '["string"]')
    ELSE to_tsvector('simple'::regconfig, left(value::text, cap))
  END
$$""",
    rf"""
CREATE OR REPLACE FUNCTION peekr_span_search(
  name text, tool_name text, input_text text, output_text text, tool_arguments text, tool_result text, error text,
  input_messages jsonb, output_messages jsonb, documents jsonb, attributes jsonb
) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT to_tsvector('simple'::regconfig, replace(replace(replace(
           coalesce(name, '') || ' ' || coalesce(tool_name, '') || ' ' || left(coalesce(input_text, ''), {TEXT_CAP})
           || ' ' || left(coalesce(output_text, ''), {TEXT_CAP}) || ' ' || left(coalesce(tool_arguments, ''), {SMALL_CAP})
           || ' ' || left(coalesce(tool_result, ''), {TEXT_CAP}) || ' ' || left(coalesce(error, ''), {SMALL_CAP}),
           '\n', ' '), '\t', ' '), '\r', ' '))
      || peekr_json_search(input_messages, {TEXT_CAP})
      || peekr_json_search(output_messages, {TEXT_CAP})
      || peekr_json_search(documents, {TEXT_CAP})
      || coalesce(jsonb_to_tsvector('simple'::regconfig, jsonb_path_query_array(attributes,
           'strict $.** ? (@.type() == "string" && !(@ like_regex ".{{{HALF}}}.{{{HALF}}}" flag "s"))'),
           '["string"]'), ''::tsvector)
$$""",
    """
CREATE INDEX IF NOT EXISTS span_search ON traces_span USING gin (peekr_span_search(
  name, tool_name, input_text, output_text, tool_arguments, tool_result, error,
  input_messages, output_messages, documents, attributes))""",
]

PG_BACKWARDS = [
    "DROP INDEX IF EXISTS span_search",
    "DROP FUNCTION IF EXISTS peekr_span_search(text, text, text, text, text, text, text, jsonb, jsonb, jsonb, jsonb)",
    "DROP FUNCTION IF EXISTS peekr_json_search(jsonb, integer)",
]


def _sqlite_text(row: str) -> str:
    """The text FTS5 indexes for one row (`new`, `old` or the table itself)."""

    def strings(column: str, extra: str = "", cap: int = TEXT_CAP) -> str:
        return (
            f"coalesce((SELECT substr(group_concat(value, ' '), 1, {cap}) FROM json_tree({row}.{column}) "
            f"WHERE type = 'text'{extra}), '')"
        )

    text = " || ' ' || ".join(
        [
            f"{row}.name",
            f"{row}.tool_name",
            f"substr({row}.input_text, 1, {TEXT_CAP})",
            f"substr({row}.output_text, 1, {TEXT_CAP})",
            f"substr({row}.tool_arguments, 1, {SMALL_CAP})",
            f"substr({row}.tool_result, 1, {TEXT_CAP})",
            f"substr({row}.error, 1, {SMALL_CAP})",
        ]
    )
    text = f"replace(replace(replace({text}, '\\n', ' '), '\\t', ' '), '\\r', ' ')"
    return " || ' ' || ".join(
        [
            text,
            strings("input_messages"),
            strings("output_messages"),
            strings("documents"),
            strings("attributes", f" AND length(value) < {METADATA_VALUE_CHARS}", cap=1_000_000),
        ]
    )


COLUMNS = (
    "name, tool_name, input_text, output_text, tool_arguments, tool_result, error, input_messages, output_messages, "
    "documents, attributes"
)


def sqlite_forwards_sql() -> list[str]:
    t = "traces_span_search"
    delete = f"INSERT INTO {t} ({t}, rowid, body) VALUES ('delete', old.id, {_sqlite_text('old')});"
    insert = f"INSERT INTO {t} (rowid, body) VALUES (new.id, {_sqlite_text('new')});"
    return [
        f"CREATE VIRTUAL TABLE {t} USING fts5(body, content='', columnsize=0, tokenize='unicode61')",
        f"INSERT INTO {t} (rowid, body) SELECT id, {_sqlite_text('traces_span')} FROM traces_span",
        f"CREATE TRIGGER traces_span_search_ai AFTER INSERT ON traces_span BEGIN {insert} END",
        f"CREATE TRIGGER traces_span_search_ad AFTER DELETE ON traces_span BEGIN {delete} END",
        f"CREATE TRIGGER traces_span_search_au AFTER UPDATE OF {COLUMNS} ON traces_span BEGIN {delete} {insert} END",
    ]


SQLITE_BACKWARDS = [
    "DROP TRIGGER IF EXISTS traces_span_search_ai",
    "DROP TRIGGER IF EXISTS traces_span_search_ad",
    "DROP TRIGGER IF EXISTS traces_span_search_au",
    "DROP TABLE IF EXISTS traces_span_search",
]


def _run(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql, params=None)


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_FORWARDS)
    elif vendor == "sqlite":
        _run(schema_editor, sqlite_forwards_sql())


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _run(schema_editor, PG_BACKWARDS)
    elif vendor == "sqlite":
        _run(schema_editor, SQLITE_BACKWARDS)


class Migration(migrations.Migration):
    dependencies = [("traces", "0015_explorer")]

    operations = [migrations.RunPython(forwards, backwards)]
