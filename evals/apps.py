from django.apps import AppConfig


class EvalsConfig(AppConfig):
    name = "evals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from evals import extensions
        from evals.services import traces_evaluate
        from traces.pipeline import Stage, stage_register

        stage_register(Stage(name="evaluate", bit=1, order=10, handler=traces_evaluate, label="Evaluations"))
        extensions.register()  # scores on the trace explorer, ?evaluate=sync (traces.extensions)
        from evals.retention import traces_flagged
        from traces.extensions import retention_keep_register

        retention_keep_register(traces_flagged)  # flagged traces keep their content longer
