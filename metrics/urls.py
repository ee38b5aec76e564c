from django.urls import path

from metrics import views

app_name = "metrics"

urlpatterns = [
    path("p/<int:project_id>/releases", views.release_list, name="release_list"),
]
