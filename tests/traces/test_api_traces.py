import time

import pytest

from tests.base import make_raw_span, make_trace
from traces.services import spans_ingest


def get(client, url, key):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.mark.django_db
def test_it_lists_traces_newest_first_with_their_aggregates(client, project, api_key):
    now = time.time()
    old, _ = make_trace(project, name="old", start=now - 600)
    new, _ = make_trace(project, name="new", start=now - 60, n_llm=3)

    resp = get(client, "/api/v1/traces", api_key)

    assert resp.status_code == 200
    items = resp.json()["items"]
    assert [i["trace_id"] for i in items] == [new, old]
    assert items[0]["span_count"] == 4
    assert items[0]["total_tokens"] == 3 * 59
    assert items[0]["models"] == ["gpt-4o-mini"]
    assert items[0]["cost"] > 0


@pytest.mark.django_db
def test_the_cursor_walks_every_trace_once(client, project, api_key):
    start = time.time() - 3600
    made = {make_trace(project, start=start + i * 10, n_llm=1)[0] for i in range(7)}
    seen, cursor = [], ""
    while True:
        data = get(client, f"/api/v1/traces?limit=3&cursor={cursor}", api_key).json()
        seen += [i["trace_id"] for i in data["items"]]
        cursor = data["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 and set(seen) == made


@pytest.mark.django_db
def test_filters_narrow_the_list(client, project, api_key):
    now = time.time()
    slow, _ = make_trace(project, name="slow-answer", start=now - 100, n_llm=4)  # 5 s
    fast, _ = make_trace(project, name="fast-answer", start=now - 50, n_llm=0)  # 1 s
    failed = make_raw_span(name="broken", status_code=2, status_message="boom", start=now - 20)
    spans_ingest(project=project, raws=[failed])
    session = make_raw_span(name="turn", attributes={"session.id": "s-1", "user.id": "u-9"}, start=now - 10)
    spans_ingest(project=project, raws=[session])

    def ids(query):
        return {i["trace_id"] for i in get(client, f"/api/v1/traces?{query}", api_key).json()["items"]}

    assert ids("name=slow") == {slow}
    assert ids("min_duration_ms=4000") == {slow}
    assert ids("status=error") == {failed.trace_id}
    assert ids("has_error=true") == {failed.trace_id}
    assert failed.trace_id not in ids("has_error=false")
    assert ids("model=gpt-4o-mini") == {slow}
    assert ids("session_id=s-1") == {session.trace_id}
    assert ids("user_id=u-9") == {session.trace_id}
    assert ids("service=test-service") == {slow, fast, failed.trace_id, session.trace_id}
    assert ids("service=nope") == set()


@pytest.mark.django_db
def test_a_trace_comes_with_its_spans(client, project, api_key):
    trace_id, spans = make_trace(project, n_llm=2)

    resp = get(client, f"/api/v1/traces/{trace_id}", api_key)

    assert resp.status_code == 200
    data = resp.json()
    assert data["trace_id"] == trace_id
    assert len(data["spans"]) == 3
    llm = data["spans"][1]
    for field in [
        "span_id",
        "parent_span_id",
        "name",
        "kind",
        "provider",
        "model",
        "input",
        "output",
        "documents",
        "tool",
        "input_tokens",
        "output_tokens",
        "cost",
        "start_time",
        "end_time",
        "duration_ms",
        "status",
        "error",
        "session_id",
        "user_id",
        "attributes",
    ]:
        assert field in llm
    assert llm["kind"] == "llm"
    assert llm["parent_span_id"] == spans[0].span_id
    assert llm["model"] == "gpt-4o-mini"
    assert llm["input_tokens"] == 42 and llm["output_tokens"] == 17
    assert "capital of France" in llm["input"]
    assert llm["output"] == "Paris."
    assert data["spans"][0]["parent_span_id"] is None


@pytest.mark.django_db
def test_another_projects_trace_is_404(client, project, api_key, other_project_and_key):
    other_project, other_key = other_project_and_key
    trace_id, _ = make_trace(project)

    assert get(client, f"/api/v1/traces/{trace_id}", other_key).status_code == 404
    assert get(client, "/api/v1/traces", other_key).json()["items"] == []
    assert get(client, f"/api/v1/traces/{trace_id}", api_key).status_code == 200


@pytest.mark.django_db
def test_it_needs_a_key(client, project):
    assert client.get("/api/v1/traces").status_code == 401
    assert client.get("/api/v1/traces", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401


@pytest.mark.django_db
def test_the_list_costs_the_same_queries_for_any_page_size(client, project, api_key, django_assert_max_num_queries):
    for i in range(30):
        make_trace(project, n_llm=1, start=time.time() - 100 - i)
    get(client, "/api/v1/traces?limit=1", api_key)  # the key's first use is recorded (then once a minute)
    with django_assert_max_num_queries(2):
        assert len(get(client, "/api/v1/traces?limit=25", api_key).json()["items"]) == 25


@pytest.mark.django_db
def test_the_openapi_docs_are_served_offline(client):
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    assert b"cdn" not in resp.content.lower()
    schema = client.get("/api/openapi.json").json()
    assert "/api/v1/traces/{trace_id}" in schema["paths"]
