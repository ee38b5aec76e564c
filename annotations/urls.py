from django.urls import path

from annotations import views

app_name = "annotations"

urlpatterns = [
    path("p/<int:project_id>/review", views.queue_list, name="queue_list"),
    path("p/<int:project_id>/review/new", views.queue_create, name="queue_create"),
    path("p/<int:project_id>/review/labels", views.taxonomy_update, name="taxonomy_update"),
    path("p/<int:project_id>/review/add", views.queue_add, name="queue_add"),
    path("p/<int:project_id>/review/picker", views.queue_picker, name="queue_picker"),
    path("p/<int:project_id>/review/items/<int:item_id>", views.review_item, name="review_item"),
    path("p/<int:project_id>/review/items/<int:item_id>/skip", views.review_skip, name="review_skip"),
    path("p/<int:project_id>/review/items/<int:item_id>/release", views.review_release, name="review_release"),
    path("p/<int:project_id>/review/items/<int:item_id>/spans/<str:span_id>", views.review_span, name="review_span"),
    path("p/<int:project_id>/review/<int:queue_id>", views.queue_detail, name="queue_detail"),
    path("p/<int:project_id>/review/<int:queue_id>/next", views.review_next, name="review_next"),
    path("p/<int:project_id>/review/<int:queue_id>/rules", views.routing_rule_create, name="routing_rule_create"),
    path(
        "p/<int:project_id>/review/<int:queue_id>/rules/<int:rule_id>/delete",
        views.routing_rule_delete,
        name="routing_rule_delete",
    ),
    path("p/<int:project_id>/review/<int:queue_id>/promote", views.queue_promote, name="queue_promote"),
    path("p/<int:project_id>/golden-sets", views.golden_set_list, name="golden_set_list"),
    path("p/<int:project_id>/golden-sets/promote", views.golden_promote_trace, name="golden_promote_trace"),
    path("p/<int:project_id>/golden-sets/<int:set_id>", views.golden_set_detail, name="golden_set_detail"),
    path("p/<int:project_id>/golden-sets/<int:set_id>/remove", views.golden_item_remove, name="golden_item_remove"),
    path("p/<int:project_id>/golden-sets/<int:set_id>/runs", views.golden_runs, name="golden_runs"),
    path("p/<int:project_id>/golden-sets/<int:set_id>/export/<str:fmt>", views.golden_export, name="golden_export"),
    path("p/<int:project_id>/calibration", views.calibration, name="calibration"),
    path("p/<int:project_id>/triage", views.triage, name="triage"),
]
