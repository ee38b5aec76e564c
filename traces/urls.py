from django.urls import path

from traces import access_views, privacy_views, retention_views, views

app_name = "traces"

urlpatterns = [
    path("", views.home, name="home"),
    path("p/<int:project_id>/", views.project_home, name="project_home"),
    path("p/<int:project_id>/traces", views.trace_list, name="trace_list"),
    path("p/<int:project_id>/traces/views", views.saved_view_create, name="saved_view_create"),
    path("p/<int:project_id>/traces/views/<int:view_id>/delete", views.saved_view_delete, name="saved_view_delete"),
    path("p/<int:project_id>/traces/<str:trace_id>", views.trace_detail, name="trace_detail"),
    path("p/<int:project_id>/traces/<str:trace_id>/waterfall", views.waterfall_rows, name="waterfall_rows"),
    path("p/<int:project_id>/traces/<str:trace_id>/spans/<str:span_id>", views.span_detail, name="span_detail"),
    path("p/<int:project_id>/sessions", views.session_list, name="session_list"),
    # Session ids are the application's own strings: they may contain slashes.
    path("p/<int:project_id>/sessions/<path:session_id>", views.session_detail, name="session_detail"),
    path("p/<int:project_id>/settings/keys", views.keys, name="keys"),
    path("p/<int:project_id>/settings/keys/<int:key_id>/revoke", views.key_revoke, name="key_revoke"),
    # Access: members, invitations, the project's access setting, the audit log, personal tokens, new projects
    path("p/<int:project_id>/settings/members", access_views.members, name="members"),
    path("p/<int:project_id>/settings/members/invite", access_views.invite, name="invite"),
    path("p/<int:project_id>/settings/members/<int:member_id>/role", access_views.member_role, name="member_role"),
    path(
        "p/<int:project_id>/settings/members/<int:member_id>/remove", access_views.member_delete, name="member_remove"
    ),
    path(
        "p/<int:project_id>/settings/invitations/<int:invitation_id>/revoke",
        access_views.invite_revoke,
        name="invite_revoke",
    ),
    path("p/<int:project_id>/settings/access", access_views.access_settings, name="access_settings"),
    path("p/<int:project_id>/settings/audit", access_views.audit, name="audit"),
    path("p/<int:project_id>/settings/retention", retention_views.retention_settings, name="retention"),
    path("p/<int:project_id>/settings/privacy", privacy_views.privacy_settings, name="privacy"),
    path("invite/<str:token>", access_views.invitation, name="invitation"),
    path("projects/new", access_views.project_new, name="project_new"),
    path("settings/tokens", access_views.tokens, name="tokens"),
    path("settings/tokens/<int:token_id>/revoke", access_views.token_delete, name="token_revoke"),
]
