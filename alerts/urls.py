from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("p/<int:project_id>/monitors", views.monitor_list, name="monitor_list"),
    path("p/<int:project_id>/monitors/<int:monitor_id>", views.monitor_detail, name="monitor_detail"),
    path("p/<int:project_id>/monitors/<int:monitor_id>/chart", views.monitor_chart, name="monitor_chart"),
    path("p/<int:project_id>/monitors/<int:monitor_id>/toggle", views.monitor_toggle, name="monitor_toggle"),
    path("p/<int:project_id>/monitors/<int:monitor_id>/delete", views.monitor_delete, name="monitor_delete"),
    path("p/<int:project_id>/alerts", views.alert_list, name="alert_list"),
    path("p/<int:project_id>/alerts/<int:alert_id>", views.alert_detail, name="alert_detail"),
    path("p/<int:project_id>/alerts/<int:alert_id>/action", views.alert_action, name="alert_action"),
    path("p/<int:project_id>/channels", views.channel_list, name="channel_list"),
    path("p/<int:project_id>/channels/<int:channel_id>/test", views.channel_test, name="channel_test"),
    path("p/<int:project_id>/channels/<int:channel_id>/delete", views.channel_delete, name="channel_delete"),
]
