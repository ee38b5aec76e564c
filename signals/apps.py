from django.apps import AppConfig


class SignalsConfig(AppConfig):
    """What users say (feedback) and do (rephrase, abandon, escalate), and the routing policy it drives."""

    name = "signals"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from annotations import services as annotation_services
        from evals import services as eval_services
        from signals import extensions
        from signals.routing import judge_trigger, review_kinds
        from signals.services import on_feedback, traces_signal
        from traces.pipeline import Stage, stage_register

        # First: evaluation (its "signal" trigger) and routing (its "signal" rules) read what this stage writes.
        stage_register(
            Stage(name="signals", bit=16, order=5, handler=traces_signal, label="User signals", production_only=True)
        )
        extensions.register()
        from signals.retention import traces_flagged
        from traces.extensions import retention_keep_register

        retention_keep_register(traces_flagged)  # flagged traces keep their content longer
        for hooks, hook in (
            (eval_services.FEEDBACK_HOOKS, on_feedback),
            (eval_services.TRIGGER_HOOKS, judge_trigger),
            (annotation_services.SIGNAL_REVIEW_HOOKS, review_kinds),
        ):
            if hook not in hooks:
                hooks.append(hook)
