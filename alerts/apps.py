from django.apps import AppConfig


class AlertsConfig(AppConfig):
    """Monitors against a 7-day baseline, alerts and the channels that deliver them."""

    name = "alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from alerts.monitors import monitors_builtin_create
        from traces import extensions

        extensions.project_created_hook_register(monitors_builtin_create)
