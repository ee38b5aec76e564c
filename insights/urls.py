from django.urls import path

from insights import views

app_name = "insights"

urlpatterns = [
    path("p/<int:project_id>/insights", views.insight_list, name="insight_list"),
    path("p/<int:project_id>/insights/<int:insight_id>", views.insight_detail, name="insight_detail"),
    path("p/<int:project_id>/insights/<int:insight_id>/status", views.insight_status, name="insight_status"),
    path("p/<int:project_id>/traces/<str:trace_id>/insights", views.trace_findings, name="trace_findings"),
    path("p/<int:project_id>/dashboards", views.dashboards, name="dashboards"),
    path("p/<int:project_id>/dashboards/chart/<str:name>", views.dashboard_chart, name="dashboard_chart"),
]
