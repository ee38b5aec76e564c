from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from peekr_web.accounts import PasswordChangeView
from peekr_web.api import api
from peekr_web.health import healthz
from traces import receivers

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Wire protocols (OTLP/HTTP and the Peekr SDK)
    path("v1/traces", receivers.otlp_traces, name="otlp-traces"),
    path("v1/logs", receivers.otlp_logs, name="otlp-logs"),
    path("v1/spans", receivers.peekr_spans, name="peekr-spans"),
    path("v1/compliance", receivers.peekr_compliance, name="peekr-compliance"),
    path("v1/metrics", receivers.otlp_metrics, name="otlp-metrics"),
    path("api/public/otel/v1/traces", receivers.otlp_traces, name="langfuse-otel-traces"),  # Langfuse's SDKs
    path("api/public/otel/v1/metrics", receivers.otlp_metrics, name="langfuse-otel-metrics"),
    path("api/", api.urls),
    path("login/", auth_views.LoginView.as_view(template_name="login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/", PasswordChangeView.as_view(), name="password_change"),
    path("admin/", admin.site.urls),
    path("", include("regressions.urls")),
    path("", include("alerts.urls")),  # monitors, alerts, channels
    path("", include("releases.urls")),  # the Releases page: compare, verdict, shadow pairs
    path("", include("metrics.urls")),  # deploys, rollup charts
    path("", include("signals.urls")),  # signals, routing policy
    path("", include("evals.urls")),
    path("", include("annotations.urls")),  # annotations: review queues, golden sets, calibration, triage
    path("", include("insights.urls")),
    path("", include("traces.urls")),
]

handler404 = "peekr_web.errors.not_found"
handler500 = "peekr_web.errors.server_error"
