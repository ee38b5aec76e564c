"""After redaction: support finds a user's traces by the raw user id, and the PII rule (run on what was stored)
still flags what redaction left in."""

import pytest

from tests.base import llm_attributes, make_key, make_raw_span
from traces import privacy
from traces.models import Trace
from traces.services import spans_ingest


def ingest(project, *, user: str = "", answer: str = "Paris.", session: str = "") -> str:
    attributes = {"user.id": user} if user else {}
    if session:
        attributes["session.id"] = session
    root = make_raw_span(name="answer", attributes=attributes)
    chat = make_raw_span(trace_id=root.trace_id, parent_span_id=root.span_id, name="chat", kind=3,
                         attributes=llm_attributes(answer=answer))  # fmt: skip
    spans_ingest(project=project, raws=[root, chat])
    return root.trace_id


@pytest.mark.django_db
def test_searching_by_a_raw_user_id_finds_the_hashed_traces(client, owner_client, project):
    mine = ingest(project, user="alice@example.com")
    ingest(project, user="bob")
    stored = Trace.objects.get(trace_id=mine).user_id
    assert stored.startswith("u_") and "alice" not in stored

    read = make_key(project, "read")
    for query in ("alice@example.com", stored):  # the raw id, or the token copied from the UI
        items = client.get(f"/api/v1/traces?user_id={query}", HTTP_AUTHORIZATION=f"Bearer {read}").json()["items"]
        assert [t["trace_id"] for t in items] == [mine]
        assert items[0]["user_id"] == stored

    html = owner_client.get(f"/p/{project.pk}/traces?user_id=alice@example.com").content.decode()
    assert mine in html and "alice@example.com" not in html.split("<main", 1)[1].replace(
        'value="alice@example.com"', ""
    )


@pytest.mark.django_db
def test_searching_by_a_raw_session_id_finds_it_when_sessions_are_hashed(client, project):
    row = privacy.privacy_settings_get(project=project)
    privacy.privacy_settings_update(project=project, actions=row.actions, custom_patterns=[], drop_keys=[],
                                    hash_user_id=True, hash_session_id=True)  # fmt: skip
    mine = ingest(project, session="conv-42")
    assert Trace.objects.get(trace_id=mine).session_id.startswith("s_")
    read = make_key(project, "read")
    items = client.get("/api/v1/traces?session_id=conv-42", HTTP_AUTHORIZATION=f"Bearer {read}").json()["items"]
    assert [t["trace_id"] for t in items] == [mine]


@pytest.mark.django_db
def test_the_pii_rule_flags_a_custom_pattern_left_on_keep_and_not_what_was_masked(project):
    from evals.models import Score
    from evals.services import trace_evaluate

    row = privacy.privacy_settings_get(project=project)
    privacy.privacy_settings_update(
        project=project, actions=row.actions, drop_keys=[], hash_user_id=True, hash_session_id=False,
        custom_patterns=[{"name": "employee_id", "pattern": "EMP-[0-9]{6}", "action": "keep"}],
    )  # fmt: skip
    leaky = ingest(project, answer="Ask EMP-123456 or mail hr@example.com.")
    clean = ingest(project, answer="Mail hr@example.com.")

    for trace_id in (leaky, clean):
        trace_evaluate(trace_pk=Trace.objects.get(trace_id=trace_id).pk)
    flagged = Score.objects.get(trace__trace_id=leaky, evaluator="pii", span__kind="llm")
    assert flagged.passed is False and flagged.label == "pii:employee_id"
    assert "EMP-123456" not in str(flagged.details)  # masked in the details, as the built-in kinds are
    masked = Score.objects.get(trace__trace_id=clean, evaluator="pii", span__kind="llm")
    assert masked.passed is True  # the email was masked at ingest: nothing left to flag
