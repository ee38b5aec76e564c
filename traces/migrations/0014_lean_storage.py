"""Issue 14: each piece of span content stored once (traces.lean).

Adds ``Span.lean`` (null: nothing taken; adding a nullable column is a catalogue change only), drops the unused
span_model index, then converts the
stored spans in batches by id: each row's attributes and events lose what its normalised fields already hold, and
``lean`` records how to give it back (traces.lean.split, with its per-key exactness check). Idempotent: a row that
already has a record is skipped, so a migration stopped half way can be run again. Works on SQLite and PostgreSQL
(where the table is partitioned by start_time: rows are updated by (id, start_time), so each update finds its
partition). Reversible: backwards puts the attributes and events back whole and clears the records.

The conversion calls traces.lean as it is today (not a frozen copy): the record format is versioned by the
shape of its keys, and raw_attributes reads every record it ever wrote.
"""

from django.db import migrations, models

BATCH = 2_000
FIELDS = (
    "id",
    "start_time",
    "attributes",
    "events",
    "lean",
    "input_text",
    "output_text",
    "tool_arguments",
    "tool_result",
    "error",
    "input_messages",
    "output_messages",
    "documents",
)


def _batches(Span, **filters):
    last = 0
    while True:
        rows = list(Span.objects.filter(id__gt=last, **filters).order_by("id").values(*FIELDS)[:BATCH])
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def _save(Span, changed):
    for row in changed:  # one UPDATE per changed row, inside the batch's transaction (autocommit per batch)
        Span.objects.filter(id=row["id"], start_time=row["start_time"]).update(
            attributes=row["attributes"], events=row["events"], lean=row["lean"]
        )


def forwards(apps, schema_editor):
    from django.db import transaction

    from traces import lean

    Span = apps.get_model("traces", "Span")
    for rows in _batches(Span, lean__isnull=True):
        changed = []
        for row in rows:
            attributes, events, record = lean.split(row)
            if record:
                changed.append({**row, "attributes": attributes, "events": events, "lean": record})
        with transaction.atomic(using=schema_editor.connection.alias):
            _save(Span, changed)


def backwards(apps, schema_editor):
    from django.db import transaction

    from traces import lean

    Span = apps.get_model("traces", "Span")
    for rows in _batches(Span, lean__isnull=False):
        changed = [
            {**row, "attributes": lean.raw_attributes(row), "events": lean.raw_events(row), "lean": None}
            for row in rows
        ]
        with transaction.atomic(using=schema_editor.connection.alias):
            _save(Span, changed)


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own: a large table is converted without one huge transaction

    dependencies = [("traces", "0013_span_partitioning")]

    operations = [
        migrations.AddField(model_name="span", name="lean", field=models.JSONField(blank=True, null=True)),
        # Nothing reads spans by (project, model): the model filter is Trace.models_used, and the judge-model check
        # (model__iexact) cannot use it. One index fewer to write per span, and no more plans picking it by mistake.
        migrations.RemoveIndex(model_name="span", name="span_model"),
        migrations.RunPython(forwards, backwards, elidable=True),
    ]
