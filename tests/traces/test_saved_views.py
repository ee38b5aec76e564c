"""Saved views of the trace list: a user saves the current filters under a name, sees them above the list, opens
and deletes them; they are theirs alone, per project."""

import re

from django.urls import reverse

from tests.base import make_trace
from traces.models import SavedView


def create(client, project, name, query):
    return client.post(reverse("traces:saved_view_create", args=[project.pk]), {"view_name": name, "query": query})


def test_a_view_is_saved_with_only_the_filters_set_and_listed_above_the_list(owner_client, owner, project):
    make_trace(project, name="kept")
    response = create(owner_client, project, "Slow prod", "environment=prod&name=&model_op=eq&sort=-cost&cursor=")
    assert response.status_code == 302
    view = SavedView.objects.get(user=owner, project=project)
    assert (view.name, view.query) == ("Slow prod", "environment=prod&sort=-cost")
    assert response["Location"].endswith("?environment=prod&sort=-cost")
    html = owner_client.get(reverse("traces:trace_list", args=[project.pk])).content.decode()
    link = re.search(r'<a href="([^"]+)"[^>]*>Slow prod</a>', html)
    assert link and link.group(1).endswith("/traces?environment=prod&amp;sort=-cost")


def test_the_list_offers_the_current_query_to_save(owner_client, project):
    make_trace(project, name="kept")
    url = reverse("traces:trace_list", args=[project.pk])
    html = owner_client.get(url + "?status=ok&sort=cost").content.decode()
    assert 'name="query" value="status=ok&amp;sort=cost"' in html


def test_the_same_name_replaces_and_delete_removes(owner_client, owner, project):
    create(owner_client, project, "Mine", "status=error")
    create(owner_client, project, "Mine", "status=ok")
    view = SavedView.objects.get(user=owner, project=project)
    assert view.query == "status=ok"
    response = owner_client.post(reverse("traces:saved_view_delete", args=[project.pk, view.pk]))
    assert response.status_code == 302
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_views_are_per_user_and_others_cannot_delete_them(owner_client, owner, project):
    from django.test import Client

    from tests.base import make_user
    from traces.models import Membership

    teammate = make_user("teammate")
    Membership.objects.create(project=project, user=teammate, role="engineer")
    create(owner_client, project, "Owner's", "status=error")
    view = SavedView.objects.get(user=owner)
    client = Client()
    client.force_login(teammate)
    html = client.get(reverse("traces:trace_list", args=[project.pk])).content.decode()
    assert "Owner&#x27;s" not in html and "Owner's" not in html
    assert client.post(reverse("traces:saved_view_delete", args=[project.pk, view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_outsiders_cannot_save_views_in_a_project(client, outsider, project):
    client.force_login(outsider)
    assert create(client, project, "Sneaky", "status=ok").status_code == 404
    assert not SavedView.objects.exists()


def test_a_nameless_view_is_refused(owner_client, project):
    create(owner_client, project, "  ", "status=ok")
    assert not SavedView.objects.exists()
