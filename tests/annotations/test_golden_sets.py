import json
from datetime import timedelta

import pytest
from django.utils import timezone

from annotations import grouping, selectors, services
from annotations.models import GoldenItem, GoldenSetVersion
from tests.annotations.helpers import BAD_ANSWER, DOCS, QUESTION, agent_trace, make_queue, reviewed_item
from traces.models import Trace


def snapshot(version) -> str:
    rows = list(GoldenItem.objects.filter(version=version).order_by("pk").values())
    return json.dumps(rows, sort_keys=True, default=str)


@pytest.fixture
def golden_set(project):
    return services.golden_set_create(project=project, name="support")


@pytest.mark.django_db
def test_promotion_keeps_the_whole_context(project, owner, golden_set):
    queue = make_queue(project)
    trace = agent_trace(project)
    item = reviewed_item(queue, trace, owner, labels=["hallucination", "wrong tool call"],
                         expected_output="Yes: within 30 days, back to your card.")  # fmt: skip
    version = services.golden_items_promote(golden_set=golden_set, items_or_traces=[item])
    assert version.number == 1
    case = GoldenItem.objects.get(version=version)
    assert case.source_trace_id == trace.trace_id
    assert [m["role"] for m in case.input_messages] == ["system", "user", "assistant", "tool"]
    assert case.input_messages[1]["content"] == QUESTION
    assert case.input_messages[2]["tool_calls"][0]["name"] == "lookup_order"
    assert case.input_text == QUESTION
    assert [d["content"] for d in case.context] == DOCS
    assert case.tool_calls == [{"name": "lookup_order", "arguments": '{"order_id": "1234"}',
                                "result": '{"status": "delivered", "days_ago": 6}', "status": "unset"}]  # fmt: skip
    assert (case.model, case.prompt_version) == ("gpt-4o-mini", "support-v7")
    assert case.bad_output == BAD_ANSWER
    assert case.expected_output == "Yes: within 30 days, back to your card."
    assert case.labels == ["hallucination", "wrong tool call"]
    assert case.graders == [
        {"type": "faithfulness", "threshold": 0.8},
        {"type": "tool_allowed", "allowed": ["lookup_order"]},
    ]
    # Copied, not referenced: the trace going away does not touch the case.
    Trace.objects.filter(pk=trace.pk).delete()
    assert GoldenItem.objects.get(pk=case.pk).bad_output == BAD_ANSWER


@pytest.mark.django_db
def test_versions_never_change_once_written(project, owner, golden_set):
    queue = make_queue(project)
    first = reviewed_item(queue, agent_trace(project), owner, labels=["PII leak"])
    v1 = services.golden_items_promote(golden_set=golden_set, items_or_traces=[first])
    before = snapshot(v1)
    second_trace = agent_trace(project, question="What's the weather in Oslo today?", answer="Sunny, call 555-0100")
    second = reviewed_item(queue, second_trace, owner, labels=["bad format"])
    v2 = services.golden_items_promote(golden_set=golden_set, items_or_traces=[second], note="more")
    assert (v2.number, v2.items.count(), v2.note) == (2, 2, "more")
    assert snapshot(v1) == before
    case_ids = list(v1.items.values_list("case_id", flat=True))
    assert case_ids[0] in set(v2.items.values_list("case_id", flat=True))  # case ids are stable
    v3 = services.golden_item_remove(golden_set=golden_set, case_id=case_ids[0])
    assert v3.number == 3 and list(v3.items.values_list("source_trace_id", flat=True)) == [second_trace.trace_id]
    assert snapshot(v1) == before and v2.items.count() == 2
    # The same trace again is no change: no new version.
    assert services.golden_items_promote(golden_set=golden_set, items_or_traces=[second]) is None
    assert GoldenSetVersion.objects.filter(golden_set=golden_set).count() == 3


@pytest.mark.django_db
def test_near_duplicates_promote_one_representative(project, owner, golden_set):
    queue = make_queue(project)
    items = []
    for n in range(5):
        trace = agent_trace(
            project,
            question=f"Can I get a refund for my order {1000 + n} from last week please?",
            answer="Yes, refunds are accepted within 90 days and paid in cash to you.",
        )
        items.append(reviewed_item(queue, trace, owner, labels=["hallucination"],
                                   expected_output="Within 30 days." if n == 3 else ""))  # fmt: skip
    different = agent_trace(project, question="Cancel my subscription", answer="I cannot help with that.")
    items.append(reviewed_item(queue, different, owner, labels=["refusal"]))
    groups = services.promotion_groups(items=items)
    assert sorted(len(g.members) for g in groups) == [1, 5]
    version = services.golden_items_promote(golden_set=golden_set, items_or_traces=items)
    cases = list(version.items.order_by("pk"))
    assert len(cases) == 2
    assert {c.source_trace_id for c in cases} == {items[3].trace.trace_id, different.trace_id}  # has expected output
    # One more near-duplicate of a case already in the set: nothing new.
    late = agent_trace(project, question="Can I get a refund for my order 2000 from last week please?",
                       answer="Yes, refunds are accepted within 90 days and paid in cash to you.")  # fmt: skip
    late_item = reviewed_item(queue, late, owner, labels=["hallucination"])
    assert services.golden_items_promote(golden_set=golden_set, items_or_traces=[late_item]) is None
    # Without grouping every trace is its own case.
    v2 = services.golden_items_promote(golden_set=golden_set, items_or_traces=[late_item], group=False)
    assert v2.items.count() == 3


def test_grouping_needs_the_same_labels_and_similar_input_and_output():
    ask, tell = "please update my account, my email is {}", "we have sent the confirmation to {}"
    cases = [
        {"key": 1, "labels": ["pii leak"], "input": ask.format("a@b.com"), "output": tell.format("a@b.com")},
        {"key": 2, "labels": ["pii leak"], "input": ask.format("c@d.com"), "output": tell.format("c@d.com")},
        {"key": 3, "labels": ["bad format"], "input": ask.format("a@b.com"), "output": tell.format("a@b.com")},
        {"key": 4, "labels": ["pii leak"], "input": "a different question", "output": tell.format("a@b.com")},
    ]
    groups = grouping.group_cases(cases)
    assert [g.members for g in groups] == [[1, 2], [3], [4]]
    assert grouping.jaccard(grouping.tokens("A b c"), grouping.tokens("a b d")) == pytest.approx(0.5)


def test_default_graders_aim_at_the_failure_type():
    case = {"context": [], "tool_calls": [{"name": "search"}], "expected_output": "Paris"}
    graders = services.default_graders(
        labels=["Hallucination", "context loss", "wrong tool call", "bad format", "PII leak", "refusal"], case=case
    )
    assert [g["type"] for g in graders] == ["faithfulness", "rubric", "tool_allowed", "json_valid", "pii", "rubric"]
    assert graders[2]["allowed"] == ["search"]
    allowed = services.default_graders(labels=["wrong tool call"], case=case, allowed_tools=["search", "lookup_*"])
    assert allowed == [{"type": "tool_allowed", "allowed": ["search", "lookup_*"]}]
    other = services.default_graders(labels=["other"], case=case)
    assert other[0]["type"] == "rubric" and "Paris" in other[0]["criteria"]
    assert services.default_graders(labels=[], case={"expected_output": ""}) == [{"type": "non_empty"}]


@pytest.mark.django_db
def test_growth_counts_what_was_added_in_the_last_quarter(project, golden_set):
    old = timezone.now() - timedelta(days=200)
    services.golden_items_import(
        golden_set=golden_set,
        cases=[{"case_id": "old1", "added_at": old}, {"case_id": "old2", "added_at": old}, {"case_id": "new1"}],
    )
    growth = selectors.golden_set_growth(golden_set=golden_set)
    assert growth == {"total": 3, "added_last_quarter": 1, "share": pytest.approx(1 / 3)}
