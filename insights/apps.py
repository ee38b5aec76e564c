from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from insights import extensions
        from insights.services import traces_detect
        from traces.pipeline import Stage, stage_register

        stage_register(Stage(name="detect", bit=2, order=20, handler=traces_detect, label="Insights"))
        extensions.register()  # finding marks on the waterfall (traces.extensions)
        from insights.retention import traces_flagged
        from traces.extensions import retention_keep_register

        retention_keep_register(traces_flagged)  # flagged traces keep their content longer
