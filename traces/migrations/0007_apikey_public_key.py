import secrets

from django.db import migrations, models


def give_existing_keys_a_public_part(apps, schema_editor):
    # Keys made before key pairs existed get a public part too, so every key works with the Langfuse SDKs.
    ApiKey = apps.get_model("traces", "ApiKey")
    for key in ApiKey.objects.filter(public_key="").only("pk"):
        ApiKey.objects.filter(pk=key.pk).update(public_key="pk-lf-" + secrets.token_hex(16))


class Migration(migrations.Migration):
    dependencies = [
        ("traces", "0006_span_moved_from"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="public_key",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(give_existing_keys_a_public_part, migrations.RunPython.noop),
    ]
