from django.apps import AppConfig


class OtelMetricsConfig(AppConfig):
    """The charts of the GenAI metrics SDKs export over OTLP (stored by traces: traces/metric_points.py)."""

    name = "otelmetrics"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from otelmetrics import charts

        charts.register()  # a section of the Dashboards page (insights), as the apps above it do
