from django.urls import path

from evals import views

app_name = "evals"

urlpatterns = [
    path("p/<int:project_id>/evals", views.rule_list, name="rule_list"),
    path("p/<int:project_id>/evals/rules/new", views.rule_create, name="rule_create"),
    path("p/<int:project_id>/evals/rules/cost", views.rule_cost_preview, name="rule_cost_preview"),
    path("p/<int:project_id>/evals/rules/<int:rule_id>", views.rule_detail, name="rule_detail"),
    path("p/<int:project_id>/evals/rules/<int:rule_id>/pause", views.rule_pause, name="rule_pause"),
    path("p/<int:project_id>/evals/rules/<int:rule_id>/mode", views.rule_mode, name="rule_mode"),
    path("p/<int:project_id>/evals/rules/<int:rule_id>/resume", views.rule_resume, name="rule_resume"),
    path("p/<int:project_id>/evals/rules/<int:rule_id>/delete", views.rule_delete, name="rule_delete"),
    path("p/<int:project_id>/evals/rules/<int:rule_id>/backfills", views.backfill_create, name="backfill_create"),
    path("p/<int:project_id>/evals/backfills/<int:backfill_id>", views.backfill_progress, name="backfill_progress"),
    path("p/<int:project_id>/evals/backfills/<int:backfill_id>/cancel", views.backfill_cancel, name="backfill_cancel"),
    path("p/<int:project_id>/evals/judges", views.judge_connections, name="judge_connections"),
    path(
        "p/<int:project_id>/evals/judges/<int:connection_id>/delete",
        views.judge_connection_delete,
        name="judge_connection_delete",
    ),
    path("p/<int:project_id>/evals/dead-letters", views.dead_letters, name="dead_letters"),
    path("p/<int:project_id>/evals/dead-letters/retry-all", views.dead_letter_retry_all, name="dead_letter_retry_all"),
    path(
        "p/<int:project_id>/evals/dead-letters/<int:score_id>/retry", views.dead_letter_retry, name="dead_letter_retry"
    ),
]
