"""State only: the database key to traces_span was dropped by traces 0013 (spans partitioned by start time on
PostgreSQL); the model now says so, so no later migration tries to drop or rebuild it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0003_golden_version_created_by"),
        ("traces", "0013_span_partitioning"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="queueitem",
                    name="span",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="traces.span",
                    ),
                ),
            ]
        ),
    ]
