import secrets

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

DEFAULT_ACTIONS = {"email": "mask", "credit_card": "mask", "ssn": "mask", "phone": "keep", "iban": "keep", "ip": "keep"}


def create_settings(apps, schema_editor):
    """Projects older than privacy settings get the same safe defaults as new ones (on for all), each with its key."""
    from traces.secrets import encrypt

    Project = apps.get_model("traces", "Project")
    PrivacySettings = apps.get_model("traces", "PrivacySettings")
    PrivacySettings.objects.bulk_create(
        [
            PrivacySettings(project_id=pk, actions=dict(DEFAULT_ACTIONS), secret=encrypt(secrets.token_hex(32)))
            for pk in Project.objects.values_list("pk", flat=True)
        ]
    )


class Migration(migrations.Migration):
    dependencies = [("traces", "0010_access_audit")]

    operations = [
        migrations.AddField(
            model_name="span",
            name="redactions",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.CreateModel(
            name="PrivacySettings",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("actions", models.JSONField(blank=True, default=dict)),
                ("custom_patterns", models.JSONField(blank=True, default=list)),
                ("drop_keys", models.JSONField(blank=True, default=list)),
                ("hash_user_id", models.BooleanField(default=True)),
                ("hash_session_id", models.BooleanField(default=False)),
                ("secret", models.TextField()),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "project",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE, related_name="privacy", to="traces.project"
                    ),
                ),
            ],
        ),
        migrations.RunPython(create_settings, migrations.RunPython.noop),
    ]
