from django.urls import path

from traces import views

app_name = "traces"

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<int:project_id>/", views.project_home, name="project_home"),
    path("p/<int:project_id>/traces", views.trace_list, name="trace_list"),
    path("p/<int:project_id>/traces/<str:trace_id>", views.trace_detail, name="trace_detail"),
    path("p/<int:project_id>/traces/<str:trace_id>/waterfall", views.waterfall_rows, name="waterfall_rows"),
    path("p/<int:project_id>/traces/<str:trace_id>/spans/<str:span_id>", views.span_detail, name="span_detail"),
    path("p/<int:project_id>/sessions", views.session_list, name="session_list"),
    # Session ids are the application's own strings: they may contain slashes.
    path("p/<int:project_id>/sessions/<path:session_id>", views.session_detail, name="session_detail"),
    path("p/<int:project_id>/settings/keys", views.keys, name="keys"),
    path("p/<int:project_id>/settings/keys/<int:key_id>/revoke", views.key_revoke, name="key_revoke"),
]
