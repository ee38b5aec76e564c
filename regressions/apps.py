from django.apps import AppConfig


class RegressionsConfig(AppConfig):
    """Regressions in the engineering workflow: opened by a failed canary verdict, a failed peekr_regress run or a
    paging alert; an owner, a severity, a status, the worst traces and a history."""

    name = "regressions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from regressions import hooks

        hooks.register()
