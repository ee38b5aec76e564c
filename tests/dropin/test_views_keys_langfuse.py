"""The keys page gives each key's public part and, for a new key, the three lines a Langfuse user sets."""

import pytest
from django.urls import reverse

from traces.models import ApiKey
from traces.selectors import project_for_key


def keys_url(project):
    return reverse("traces:keys", args=[project.pk])


@pytest.mark.django_db
def test_a_new_key_comes_with_the_langfuse_environment(owner_client, project, settings):
    settings.PEEKR_PUBLIC_URL = "https://peekr.example.com"
    owner_client.post(keys_url(project), {"name": "langfuse-app"})
    response = owner_client.get(keys_url(project))
    html = response.content.decode()
    raw = response.context["new_key"]
    stored = ApiKey.objects.get(project=project, name="langfuse-app")

    assert f"export LANGFUSE_PUBLIC_KEY={stored.public_key}\n" in html
    assert f"export LANGFUSE_SECRET_KEY={raw}\n" in html
    assert "export LANGFUSE_BASE_URL=https://peekr.example.com</pre>" in html
    assert project_for_key(raw, stored.public_key) == project
    assert project_for_key(raw, "pk-lf-other") is None
    # Later visits list the public part (not a secret), never the key.
    again = owner_client.get(keys_url(project)).content.decode()
    assert stored.public_key in again and raw not in again and "LANGFUSE_SECRET_KEY" not in again


@pytest.mark.django_db
def test_the_keys_list_reads_in_one_query_for_the_keys(owner_client, project, django_assert_max_num_queries):
    for name in ("a", "b", "c"):
        owner_client.post(keys_url(project), {"name": name})
        owner_client.get(keys_url(project))
    with django_assert_max_num_queries(8):
        html = owner_client.get(keys_url(project)).content.decode()
    assert all(k.public_key in html for k in ApiKey.objects.filter(project=project))
