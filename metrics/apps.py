from django.apps import AppConfig


class MetricsConfig(AppConfig):
    """Hourly rollups of quality, safety, latency and cost, written by the worker; deploy markers."""

    name = "metrics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from evals import judging as eval_judging
        from evals import services as eval_services
        from metrics import charts
        from metrics.services import on_feedback, on_judge_scored, on_signals, traces_rollup
        from traces.pipeline import Stage, stage_register

        # After routing: every score and signal of this completion is written.
        stage_register(Stage(name="rollup", bit=8, order=40, handler=traces_rollup, label="Metric rollups"))
        # Judge scores, feedback and signals arrive after the stage ran: the trace is queued to roll up again.
        if on_feedback not in eval_services.FEEDBACK_HOOKS:
            eval_services.FEEDBACK_HOOKS.append(on_feedback)
        if on_judge_scored not in eval_judging.JUDGE_SCORED_HOOKS:
            eval_judging.JUDGE_SCORED_HOOKS.append(on_judge_scored)
        try:
            from signals.services import SIGNAL_HOOKS
        except ImportError:  # signals without its hooks yet: nothing calls back
            SIGNAL_HOOKS = None
        if SIGNAL_HOOKS is not None and on_signals not in SIGNAL_HOOKS:
            SIGNAL_HOOKS.append(on_signals)
        charts.register()  # the rollup charts on the Dashboards page, deploy markers on its time series
        from metrics.retention import rollups_purge
        from traces.extensions import retention_purge_register

        retention_purge_register(rollups_purge)  # a project's rollups go with its record tier
