from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from annotations import extensions
        from annotations.services import on_feedback, on_judge_scored, traces_route
        from evals import judging as eval_judging
        from evals import services as eval_services
        from traces.pipeline import Stage, stage_register

        # Last: routing reads the scores and findings the stages before it wrote for this completion.
        stage_register(
            Stage(name="route", bit=4, order=30, handler=traces_route, label="Review routing", production_only=True)
        )
        extensions.register()  # the demo project's review queue (traces.extensions)
        from annotations.retention import traces_flagged
        from traces.extensions import retention_keep_register

        retention_keep_register(traces_flagged)  # flagged traces keep their content longer
        # Feedback and judge scores can arrive after routing ran: they route the trace again (idempotent).
        if on_feedback not in eval_services.FEEDBACK_HOOKS:
            eval_services.FEEDBACK_HOOKS.append(on_feedback)
        if on_judge_scored not in eval_judging.JUDGE_SCORED_HOOKS:
            eval_judging.JUDGE_SCORED_HOOKS.append(on_judge_scored)
        # A judge may block only as calibrated as the Calibration page says (evals.modes).
        from annotations.selectors import calibration_by_evaluator
        from evals import modes

        if calibration_by_evaluator not in modes.CALIBRATION_PROVIDERS:
            modes.CALIBRATION_PROVIDERS.append(calibration_by_evaluator)
