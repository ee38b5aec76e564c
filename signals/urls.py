from django.urls import path

from signals import views

app_name = "signals"

urlpatterns = [
    path("p/<int:project_id>/traces/<str:trace_id>/signals", views.trace_signals, name="trace_signals"),
    path("p/<int:project_id>/signals/sessions/<path:session_id>", views.session_signals, name="session_signals"),
    path("p/<int:project_id>/signals/intents", views.abandonment_intents, name="abandonment_intents"),
    path("p/<int:project_id>/signals/policy", views.policy, name="policy"),
]
