"""Issue 15: the explorer's saved views, and the trace row's environment and tags (filters of the trace list).

Both columns are added with a constant default: on PostgreSQL 11+ that is a change of the catalogue only, no
table rewrite however many traces there are. Existing traces get them filled on their next refresh (a new span).
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("traces", "0014_lean_storage"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(model_name="trace", name="environment", field=models.CharField(blank=True, max_length=100)),
        migrations.AddField(model_name="trace", name="tags", field=models.CharField(blank=True, max_length=500)),
        migrations.CreateModel(
            name="SavedView",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100)),
                ("query", models.CharField(blank=True, max_length=2000)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "project",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="traces.project"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "constraints": [models.UniqueConstraint(fields=("user", "project", "name"), name="savedview_unique")],
            },
        ),
    ]
