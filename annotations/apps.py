from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from annotations.services import on_trace_complete
        from traces import services as trace_services

        if on_trace_complete not in trace_services.TRACE_COMPLETE_HOOKS:
            trace_services.TRACE_COMPLETE_HOOKS.append(on_trace_complete)
        # Feedback can arrive long after routing ran: thumbs-down and escalations route the trace again.
        from annotations.services import on_feedback
        from evals import services as eval_services

        if on_feedback not in eval_services.FEEDBACK_HOOKS:
            eval_services.FEEDBACK_HOOKS.append(on_feedback)
