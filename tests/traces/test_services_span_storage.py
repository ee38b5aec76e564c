"""How spans are laid down in the database by the ingest hot path (spans_ingest)."""

import pytest
from django.db import connection

from tests.base import llm_attributes, make_raw_span
from traces.models import Span
from traces.services import spans_ingest


@pytest.mark.django_db(transaction=True)  # so that the ingest transaction commits and its SET LOCAL ends
def test_large_span_values_are_compressed_with_lz4_on_postgresql(project):
    if connection.vendor != "postgresql":
        pytest.skip("column compression is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        row = cursor.fetchone()
    if not (row and row[0]):
        pytest.skip("this PostgreSQL server was built without lz4")
    prompt = " ".join(f"question {n} about the refund policy" for n in range(300))  # ~10 KB: TOASTed
    raw = make_raw_span(name="chat gpt-4o-mini", kind=3, attributes=llm_attributes(prompt=prompt))

    spans_ingest(project=project, raws=[raw])

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_column_compression(input_text), pg_column_compression(input_messages) FROM traces_span"
            " WHERE span_id = %s",
            [raw.span_id],
        )
        assert cursor.fetchone() == ("lz4", "lz4")
    assert prompt in Span.objects.get(span_id=raw.span_id).input_text
    with connection.cursor() as cursor:
        cursor.execute("SHOW default_toast_compression")
        assert cursor.fetchone()[0] == "pglz", "the setting is for the ingest transaction only"


@pytest.mark.django_db
def test_spans_and_traces_carry_no_index_their_composite_indexes_already_cover(project):
    with connection.cursor() as cursor:
        span_indexes = connection.introspection.get_constraints(cursor, Span._meta.db_table)
    single_column = {
        tuple(c["columns"]) for c in span_indexes.values() if c["index"] and not c["unique"] and len(c["columns"]) == 1
    }
    assert ("project_id",) not in single_column and ("trace_id",) not in single_column
