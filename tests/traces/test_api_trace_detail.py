"""GET /api/v1/traces/{id}: fewer fields, pages of spans with the tree's shape first, raw attributes, its queries."""

import time

import pytest

from tests.base import hex_id, llm_attributes, make_raw_span, make_trace
from traces.models import Span
from traces.services import spans_ingest


def get(client, url, key):
    return client.get(url, HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def wide_trace(project):
    """A root and 30 chat children, one second apart (so the order is known)."""
    tid = hex_id(16)
    t0 = time.time() - 600
    root = make_raw_span(trace_id=tid, name="root", start=t0, duration=60.0)
    kids = [
        make_raw_span(
            trace_id=tid,
            parent_span_id=root.span_id,
            name=f"call {i}",
            start=t0 + 1 + i,
            duration=0.5,
            kind=3,
            attributes=llm_attributes(prompt=f"question {i}"),
        )
        for i in range(30)
    ]
    spans_ingest(project=project, raws=[root, *kids])
    return tid, [root, *kids]


@pytest.mark.django_db
def test_fields_narrows_each_span_to_the_asked_fields(client, project, api_key, wide_trace):
    tid, raws = wide_trace
    data = get(client, f"/api/v1/traces/{tid}?fields=name,parent_span_id,duration_ms", api_key).json()
    assert data["trace_id"] == tid and data["span_count"] == 31
    assert [set(s) for s in data["spans"]] == [{"span_id", "name", "parent_span_id", "duration_ms"}] * 31
    assert data["spans"][0] == {
        "span_id": raws[0].span_id,
        "name": "root",
        "parent_span_id": None,
        "duration_ms": 60000.0,
    }
    assert data["spans"][1]["parent_span_id"] == raws[0].span_id


@pytest.mark.django_db
def test_an_unknown_field_is_422(client, project, api_key, wide_trace):
    resp = get(client, f"/api/v1/traces/{wide_trace[0]}?fields=name,password", api_key)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["loc"] == ["query", "fields"]
    assert "password" in resp.json()["detail"]


@pytest.mark.django_db
def test_the_full_answer_keeps_every_field_and_the_json_columns_as_stored(client, project, api_key, wide_trace):
    tid, _ = wide_trace
    data = get(client, f"/api/v1/traces/{tid}", api_key).json()
    assert data["shape"] is None and data["next_cursor"] is None
    call = data["spans"][1]
    assert call["input_messages"][0]["role"] == "user" and "question 0" in str(call["input_messages"])
    assert call["tool"] is None and call["scores"] == [] and call["redactions"] == {}
    assert call["start_time"].endswith("Z")
    stored = Span.objects.get(span_id=call["span_id"])
    assert call["attributes"] == stored.attributes
    assert call["input_messages"] == stored.input_messages


@pytest.mark.django_db
def test_scores_and_the_eval_scores_attribute_come_from_evaluation(client, project, api_key, wide_trace):
    tid, raws = wide_trace
    score = {"evaluator": "non_empty", "value": 1.0, "passed": True, "status": "done"}
    Span.objects.filter(span_id=raws[2].span_id).update(eval_scores=[score], sdk_scores=[{"name": "x", "value": 2}])
    spans = get(client, f"/api/v1/traces/{tid}", api_key).json()["spans"]
    assert spans[2]["scores"] == [score, {"name": "x", "value": 2, "source": "sdk"}]
    assert spans[2]["attributes"]["eval_scores"] == {"non_empty": 1.0}
    assert spans[1]["scores"] == [] and "eval_scores" not in spans[1]["attributes"]


@pytest.mark.django_db
def test_pages_of_spans_come_with_the_shape_of_the_whole_tree_first(client, project, api_key, wide_trace):
    tid, raws = wide_trace
    first = get(client, f"/api/v1/traces/{tid}?limit=12&fields=name", api_key).json()
    assert [s["span_id"] for s in first["shape"]] == [r.span_id for r in raws]
    assert first["shape"][1]["parent_span_id"] == raws[0].span_id and first["shape"][0]["parent_span_id"] is None
    assert {"start_time", "end_time", "duration_ms"} <= set(first["shape"][0])
    seen, page = [], first
    while True:
        assert len(page["spans"]) <= 12
        seen += [s["span_id"] for s in page["spans"]]
        if not page["next_cursor"]:
            break
        page = get(client, f"/api/v1/traces/{tid}?limit=12&fields=name&cursor={page['next_cursor']}", api_key).json()
        assert page["shape"] is None  # the shape comes once, with the first page
    assert seen == [r.span_id for r in raws]


@pytest.mark.django_db
def test_a_cursor_this_api_did_not_give_is_422(client, project, api_key, wide_trace):
    resp = get(client, f"/api/v1/traces/{wide_trace[0]}?limit=5&cursor=nonsense", api_key)
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["loc"] == ["query", "cursor"]


@pytest.mark.django_db
def test_raw_gives_the_attributes_and_events_as_sent(client, project, api_key, wide_trace):
    tid, raws = wide_trace
    spans = get(client, f"/api/v1/traces/{tid}?raw=1&fields=attributes", api_key).json()["spans"]
    sent = raws[1].attributes
    assert spans[1]["attributes"] == sent
    assert spans[1]["events"] == []
    lean = get(client, f"/api/v1/traces/{tid}?fields=attributes", api_key).json()["spans"][1]
    assert "events" not in lean


@pytest.mark.django_db
def test_another_projects_trace_stays_404_whatever_the_parameters(client, project, api_key, other_project_and_key):
    _, other_key = other_project_and_key
    tid, _ = make_trace(project)
    assert get(client, f"/api/v1/traces/{tid}?limit=1&fields=name", other_key).status_code == 404
    assert get(client, f"/api/v1/traces/{tid}?raw=1", other_key).status_code == 404


@pytest.mark.django_db
def test_one_query_reads_the_spans_however_many_there_are(
    client, project, api_key, wide_trace, django_assert_max_num_queries
):
    tid, _ = wide_trace
    get(client, f"/api/v1/traces/{tid}", api_key)  # the key's first use is recorded (then once a minute)
    # the key, the trace, its spans, the audit row
    with django_assert_max_num_queries(4):
        assert len(get(client, f"/api/v1/traces/{tid}", api_key).json()["spans"]) == 31
    with django_assert_max_num_queries(5):  # and the shape
        assert len(get(client, f"/api/v1/traces/{tid}?limit=10", api_key).json()["shape"]) == 31
