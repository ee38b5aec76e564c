"""The trace list's URLs carry only the filters that are set: a GET with empty fields or defaults is redirected to
the short URL, and over htmx the cleaned URL is the one pushed to the address bar."""

from django.urls import reverse

from tests.base import make_trace


def test_empty_fields_and_defaults_are_dropped_by_a_redirect(owner_client, project):
    make_trace(project, name="kept")
    url = reverse("traces:trace_list", args=[project.pk])
    response = owner_client.get(
        url + "?range=all&name=&name_op=contains&model=gpt-4o&model_op=eq&user_id=&user_id_op=prefix"
        "&status=&min_cost=&sort=-start&tag=vip&tag_op=prefix&attr_key=&attr_op=eq&attr_value="
    )
    assert response.status_code == 302
    assert response["Location"] == url + "?model=gpt-4o&tag=vip&tag_op=prefix"


def test_a_url_with_nothing_empty_is_served_as_is(owner_client, project):
    url = reverse("traces:trace_list", args=[project.pk])
    assert owner_client.get(url + "?model=gpt-4o&sort=cost").status_code == 200
    assert owner_client.get(url).status_code == 200
    assert owner_client.get(url + "?range=all").status_code == 302


def test_htmx_pushes_the_cleaned_url(owner_client, project):
    make_trace(project, name="kept")
    url = reverse("traces:trace_list", args=[project.pk])
    response = owner_client.get(
        url + "?range=24h&name=&status=error&model_op=eq&model=", headers={"HX-Request": "true", "HX-Target": "results"}
    )
    assert response.status_code == 200
    assert response["HX-Push-Url"] == url + "?range=24h&status=error"
    bare = owner_client.get(url + "?name=", headers={"HX-Request": "true", "HX-Target": "results"})
    assert bare["HX-Push-Url"] == url
