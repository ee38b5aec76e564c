"""Issue 14 §1: values that recur across spans stored once (traces.shared_values).

Adds ``SharedValue`` and converts the stored spans in batches of BATCH, each batch committed on its own: a span's
attributes and events are given back as sent (traces.lean.raw_attributes / raw_events) and split again, so what
recurs (tool schemas, request skeletons, response-body skeletons with their holes kept per span, recurring kept
attributes however short, the rules taken) moves to shared rows and the record names them by digest.
A row whose split comes out the same is not written. Backwards: every record naming shared rows is split again
without them, then the table goes.

Like 0014 it calls traces.lean as it is today (raw_attributes reads every record it ever wrote).
"""

from django.db import migrations, models

BATCH = 2000
FIELDS = (
    "id",
    "project_id",
    "start_time",
    "attributes",
    "events",
    "lean",
    "input_text",
    "output_text",
    "tool_arguments",
    "tool_result",
    "error",
    "model",
    "model_version",
    "provider",
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "session_id",
    "user_id",
    "tool_name",
    "prompt_version",
    "input_messages",
    "output_messages",
    "documents",
)


def _batches(Span):
    last = 0
    while True:
        rows = list(Span.objects.filter(id__gt=last).order_by("id").values(*FIELDS)[:BATCH])
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


def _convert(apps, schema_editor, *, share: bool) -> None:
    from django.db import transaction

    from traces import lean

    Span = apps.get_model("traces", "Span")
    for rows in _batches(Span):
        with transaction.atomic(using=schema_editor.connection.alias):
            for row in rows:
                if not share and not (row["lean"] or {}).get("s"):
                    continue
                sent = {**row, "attributes": lean.raw_attributes(row), "events": lean.raw_events(row), "lean": None}
                if not share:
                    sent.pop("project_id")  # split without sharing
                attributes, events, record = lean.split(sent)
                if (attributes, events, record) != (row["attributes"], row["events"], row["lean"]):
                    Span.objects.filter(id=row["id"], start_time=row["start_time"]).update(
                        attributes=attributes, events=events, lean=record
                    )


def forwards(apps, schema_editor):
    _convert(apps, schema_editor, share=True)


def backwards(apps, schema_editor):
    _convert(apps, schema_editor, share=False)


class Migration(migrations.Migration):
    atomic = False  # each batch commits on its own: a large table is converted without one huge transaction

    dependencies = [("traces", "0016_search")]

    operations = [
        migrations.CreateModel(
            name="SharedValue",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("digest", models.CharField(max_length=16)),
                ("value", models.JSONField()),
                (
                    "project",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=models.deletion.CASCADE,
                        related_name="+",
                        to="traces.project",
                    ),
                ),
            ],
            options={"constraints": [models.UniqueConstraint(fields=("project", "digest"), name="sharedvalue_unique")]},
        ),
        migrations.RunPython(forwards, backwards, elidable=True),
    ]
