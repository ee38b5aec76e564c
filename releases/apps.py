from django.apps import AppConfig


class ReleasesConfig(AppConfig):
    """Release control: candidate vs baseline from the rollups (production and shadow traffic), the verdict a
    deploy pipeline promotes or rolls back on (peekr_canary), the Releases page."""

    name = "releases"
    default_auto_field = "django.db.models.BigAutoField"
