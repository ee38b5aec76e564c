from django.urls import path

from regressions import views

app_name = "regressions"

urlpatterns = [
    path("p/<int:project_id>/regressions", views.regression_list, name="regression_list"),
    path("p/<int:project_id>/regressions/<int:regression_id>", views.regression_detail, name="regression_detail"),
    path(
        "p/<int:project_id>/regressions/<int:regression_id>/change", views.regression_change, name="regression_change"
    ),
]
