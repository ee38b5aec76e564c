from django.urls import path

from releases import views

app_name = "releases"

urlpatterns = [
    path("p/<int:project_id>/releases", views.release_list, name="release_list"),
]
