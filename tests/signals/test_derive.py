"""The pure derivations: similarity, rephrase window, abandonment, escalation, span feedback."""

from datetime import UTC, datetime, timedelta

from signals import derive
from signals.derive import Turn

T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def turn(pk, text, minutes, output="ok"):
    start = T0 + timedelta(minutes=minutes)
    return Turn(pk=pk, trace_id=f"t{pk}", start=start, end=start + timedelta(seconds=5), input=text, output=output)


def test_rephrasings_score_above_the_threshold_and_different_requests_below():
    same = [
        ("How do I reset my password?", "how can I reset my password"),
        ("Cancel my order 1234", "please cancel order 1234"),
        ("Summarise this document in 3 bullet points", "summarize this document in three bullet points"),
    ]
    different = [
        ("How do I reset my password?", "Thanks, that worked!"),
        ("How do I export my data to CSV?", "How do I import data from CSV?"),
        ("Cancel my order 1234", "What is the status of order 5678?"),
    ]
    assert all(derive.similarity(a, b) >= 85 for a, b in same)
    assert all(derive.similarity(a, b) < 85 for a, b in different)


def test_a_rephrase_sits_on_the_earlier_turn_only_within_the_window():
    turns = [turn(1, "How do I reset my password?", 0), turn(2, "how can I reset my password", 2),
             turn(3, "how can i reset my password please", 30)]  # fmt: skip
    found = derive.rephrases(turns, window_seconds=600, threshold=85)
    assert [(f.trace_pk, f.kind, f.key) for f in found] == [(1, "rephrase", "rephrase:t1")]
    assert found[0].evidence["traces"] == ["t1", "t2"] and 0 < found[0].evidence["gap_seconds"] <= 120


def test_abandonment_needs_the_quiet_period_an_answer_and_no_completed_task():
    turns = [turn(1, "hi", 0), turn(2, "and then?", 1)]
    now = T0 + timedelta(minutes=40)
    f = derive.abandonment(turns, now=now, quiet_seconds=1800, completed=False)
    assert f.trace_pk == 2 and f.evidence["gap_seconds"] > 1800
    assert derive.abandonment(turns, now=T0 + timedelta(minutes=20), quiet_seconds=1800, completed=False) is None
    assert derive.abandonment(turns, now=now, quiet_seconds=1800, completed=True) is None
    assert derive.abandonment([turn(1, "hi", 0, output="")], now=now, quiet_seconds=1800, completed=False) is None


def test_escalation_from_an_attribute_or_a_hand_off_name():
    patterns = derive.DEFAULT_ESCALATION_PATTERNS
    assert derive.escalation({"span_id": "a", "name": "tool", "tool_name": "handoff_to_human"}, patterns)
    assert derive.escalation({"span_id": "a", "name": "transfer_to_agent"}, patterns)["pattern"]
    assert derive.escalation({"span_id": "a", "name": "x", "attributes": {"peekr.escalation": True}}, patterns)
    assert derive.escalation({"span_id": "a", "name": "search_docs", "tool_name": "search"}, patterns) is None


def test_span_feedback_from_attributes_and_events():
    span = {
        "span_id": "s1",
        "attributes": {"peekr.feedback.kind": "rating", "peekr.feedback.value": 4},
        "events": [{"name": "peekr.feedback", "attributes": {"peekr.feedback.kind": "thumbs_down",
                                                              "peekr.feedback.comment": "wrong"}},
                   {"name": "other", "attributes": {"peekr.feedback.kind": "thumbs_up"}}],
    }  # fmt: skip
    items = derive.span_feedback(span)
    assert [(i["kind"], i["value"], i["where"]) for i in items] == [("rating", 4.0, "attributes"),
                                                                    ("thumbs_down", None, "event 0")]  # fmt: skip
    assert derive.normalise_rating(4) == 0.75 and derive.normalise_rating(9) is None
