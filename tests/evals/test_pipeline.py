"""The evaluation pipeline, run in-process (the worker-process tests are in test_pipeline_worker.py)."""

import pytest
from django.db import IntegrityError

from evals import judging, services
from evals.models import EvalRule, JudgeCall, Score
from tests.evals.pipeline import SUPPORTED, UNSUPPORTED, judge_rule, rag_trace
from tests.judge_server import JudgeScript, judge_server
from traces.models import Span, Trace


def judge_scores(trace, evaluator="faithfulness"):
    return list(Score.objects.filter(trace=trace, evaluator=evaluator))


@pytest.mark.django_db
def test_built_in_rules_score_every_span_and_are_written_back(client, project, api_key):
    trace = rag_trace(project, answer="Call me at +1 415 555 0132")  # phones are kept at ingest by default

    services.trace_evaluate(trace_pk=trace.pk)

    llm = Span.objects.get(trace=trace, kind="llm")
    pii = Score.objects.get(span=llm, evaluator="pii")
    assert pii.passed is False and pii.status == "done" and pii.source == "rule"
    assert "555 0132" not in str(pii.details)  # masked
    assert {s["evaluator"] for s in llm.eval_scores} >= {"pii", "non_empty"}
    data = client.get(f"/api/v1/traces/{trace.trace_id}", HTTP_AUTHORIZATION=f"Bearer {api_key}").json()
    api_llm = next(s for s in data["spans"] if s["kind"] == "llm")
    by_name = {s["evaluator"]: s for s in api_llm["scores"]}
    assert by_name["pii"]["passed"] is False and by_name["pii"]["status"] == "done"
    assert api_llm["attributes"]["eval_scores"]["pii"] == 0.0


@pytest.mark.django_db
def test_evaluating_twice_or_re_sending_a_span_leaves_one_score_each(project):
    trace = rag_trace(project)
    services.trace_evaluate(trace_pk=trace.pk)
    before = sorted(Score.objects.filter(trace=trace).values_list("target_key", "evaluator"))
    assert before

    services.trace_evaluate(trace_pk=trace.pk)
    llm = Span.objects.get(trace=trace, kind="llm")
    from tests.base import make_raw_span
    from traces.services import spans_ingest

    resent = make_raw_span(trace_id=trace.trace_id, span_id=llm.span_id, name=llm.name, kind=3)
    spans_ingest(project=project, raws=[resent])
    services.trace_evaluate(trace_pk=trace.pk)

    after = sorted(Score.objects.filter(trace=trace).values_list("target_key", "evaluator"))
    assert after == before
    llm.refresh_from_db()
    assert llm.eval_scores, "a re-sent span keeps its written-back scores"


@pytest.mark.django_db
def test_a_rule_result_that_changes_updates_its_score_and_two_rules_on_one_target_keep_one(project):
    services.eval_rule_create(project=project, name="turns", evaluators=["max_turns", "pii"])
    services.eval_rule_create(project=project, name="turns again", evaluators=["max_turns", "pii"])
    trace = rag_trace(project, answer="All clear.")
    services.trace_evaluate(trace_pk=trace.pk)
    llm = Span.objects.get(trace=trace, kind="llm")
    assert Score.objects.filter(trace=trace, evaluator="max_turns").count() == 1
    assert Score.objects.get(span=llm, evaluator="pii").passed is True

    Span.objects.filter(pk=llm.pk).update(output_text="Mail me at jane.doe@example.com")
    services.trace_evaluate(trace_pk=trace.pk)

    pii = Score.objects.get(span=llm, evaluator="pii")
    assert pii.passed is False, "the re-run's result replaced the stored one"
    assert Score.objects.filter(span=llm, evaluator="pii").count() == 1


@pytest.mark.django_db
def test_the_unique_constraint_refuses_a_second_score(project):
    trace = rag_trace(project)
    services.trace_evaluate(trace_pk=trace.pk)
    score = Score.objects.filter(trace=trace).first()
    with pytest.raises(IntegrityError):
        Score.objects.create(
            project=project,
            trace=trace,
            target_key=score.target_key,
            evaluator=score.evaluator,
            rubric_version=score.rubric_version,
            judge_model=score.judge_model,
        )


def test_sampling_is_deterministic_and_nested():
    ids = [f"{i:032x}" for i in range(2000)]
    at_10 = {t for t in ids if services.sampled(t, 0.1)}
    at_50 = {t for t in ids if services.sampled(t, 0.5)}
    assert at_10 <= at_50
    assert 120 < len(at_10) < 280 and 850 < len(at_50) < 1150
    assert at_10 == {t for t in ids if services.sampled(t, 0.1)}


@pytest.mark.django_db
def test_faithfulness_judge_scores_and_keeps_claims_ledger_and_cache(project):
    script = JudgeScript(claims={SUPPORTED: True, UNSUPPORTED: False})
    with judge_server(script) as judge:
        judge_rule(project, judge)
        trace = rag_trace(project)
        pending = services.trace_evaluate(trace_pk=trace.pk)
        assert len(pending) == 1
        judging.judge_score_run(score_pk=pending[0])
        calls_after_first = len(judge.requests)

        # Identical inputs on another trace: judged from the cache, no new request.
        twin = rag_trace(project)
        for pk in services.trace_evaluate(trace_pk=twin.pk):
            judging.judge_score_run(score_pk=pk)
        assert len(judge.requests) == calls_after_first

    (score,) = judge_scores(trace)
    assert score.status == "done" and score.value == pytest.approx(0.5) and score.passed is True
    claims = {c["claim"]: c["verdict"] for c in score.details["claims"]}
    assert claims == {SUPPORTED: "supported", UNSUPPORTED: "unsupported"}
    assert score.judge_model == "judge-model" and score.source == "judge"
    assert JudgeCall.objects.filter(score=score).count() >= 2  # statements, then verdicts
    (twin_score,) = judge_scores(twin)
    assert twin_score.value == pytest.approx(0.5) and twin_score.details.get("cached") is True
    # The judge's own calls are traced as Peekr's, and never evaluated.
    internal = Trace.objects.filter(project=project, is_internal=True)
    assert internal.count() == 1
    assert services.trace_evaluate(trace_pk=internal.get().pk) == []
    assert not Score.objects.filter(trace__is_internal=True).exists()


@pytest.mark.django_db
def test_a_judge_outage_retries_honouring_retry_after_then_errors_never_zero(project):
    with judge_server(JudgeScript(claims={SUPPORTED: True})) as judge:
        judge_rule(project, judge)
        trace = rag_trace(project)
        (pk,) = services.trace_evaluate(trace_pk=trace.pk)
        judge.fail_next = [(429, {"Retry-After": "7"})] + [(503, {})] * 10

        with pytest.raises(judging.JudgeRetry) as first:
            judging.judge_score_run(score_pk=pk)
        assert first.value.countdown == pytest.approx(7.0)
        for _ in range(judging.MAX_JUDGE_ATTEMPTS - 2):
            with pytest.raises(judging.JudgeRetry):
                judging.judge_score_run(score_pk=pk)
        judging.judge_score_run(score_pk=pk)  # the last attempt records the failure

    score = Score.objects.get(pk=pk)
    assert score.status == "error" and score.value is None and score.passed is None
    assert "503" in score.error and f"{judging.MAX_JUDGE_ATTEMPTS} attempt" in score.error
    assert Span.objects.filter(trace=trace).count() == 3  # nothing lost
    assert score in judging.dead_letters(project=project)


@pytest.mark.django_db
def test_a_401_pauses_the_rule_and_says_why(project):
    with judge_server() as judge:
        rule = judge_rule(project, judge)
        trace = rag_trace(project)
        (pk,) = services.trace_evaluate(trace_pk=trace.pk)
        judge.fail_next = [(401, {})]
        judging.judge_score_run(score_pk=pk)

    rule.refresh_from_db()
    assert rule.status == EvalRule.Status.PAUSED
    assert "refused the key" in rule.paused_reason
    assert Score.objects.get(pk=pk).status == "error"


@pytest.mark.django_db
def test_malformed_judge_json_is_an_error_with_the_raw_reply_not_a_retry(project):
    with judge_server(JudgeScript(raw_reply="I think it's a 4, honestly")) as judge:
        rule = judge_rule(
            project,
            judge,
            evaluators=("rubric",),
            config={"rubric": {"criteria": "Is it polite?", "scale": {"min": 1, "max": 5}, "pass_threshold": 4}},
        )
        trace = rag_trace(project)
        (pk,) = services.trace_evaluate(trace_pk=trace.pk)
        judging.judge_score_run(score_pk=pk)  # no JudgeRetry raised
        requests = len(judge.requests)

    score = Score.objects.get(pk=pk)
    assert score.status == "error" and "malformed" in score.error
    assert "honestly" in score.raw_reply
    assert requests == 1
    rule.refresh_from_db()
    assert rule.status == "active"


@pytest.mark.django_db
def test_at_the_daily_cap_judging_stops_and_scores_are_skipped_for_budget(project):
    with judge_server() as judge:
        judge_rule(project, judge, daily_cost_cap=0.0)
        trace = rag_trace(project)
        assert services.trace_evaluate(trace_pk=trace.pk) == []
        assert judge.requests == []
    (score,) = judge_scores(trace)
    assert score.status == "skipped" and "budget" in score.error


@pytest.mark.django_db
def test_without_a_judge_judge_scores_say_so_and_rules_still_run(project, settings):
    settings.PEEKR_JUDGE_BASE_URL = settings.PEEKR_JUDGE_MODEL = ""
    services.eval_rule_create(project=project, name="j", evaluators=["faithfulness"])
    trace = rag_trace(project)

    assert services.trace_evaluate(trace_pk=trace.pk) == []

    (score,) = judge_scores(trace)
    assert score.status == "skipped" and "No judge configured" in score.error
    assert Score.objects.filter(trace=trace, evaluator="pii", status="done").exists()


@pytest.mark.django_db
def test_triggers_evaluate_regardless_of_sampling(project):
    with judge_server(JudgeScript(claims={SUPPORTED: True})) as judge:
        judge_rule(project, judge, sample_rate=0.0, triggers=["error", "thumbs_down"])
        failed = rag_trace(project, error=True)
        fine = rag_trace(project)
        assert len(services.trace_evaluate(trace_pk=failed.pk)) == 1
        assert services.trace_evaluate(trace_pk=fine.pk) == []

        services.feedback_record(trace=fine, kind="thumbs_down")
        assert len(services.trace_evaluate(trace_pk=fine.pk)) == 1


@pytest.mark.django_db
def test_sync_mode_returns_the_scores_with_the_answer(client, project, api_key):
    import json
    import time
    import uuid

    with judge_server(JudgeScript(claims={SUPPORTED: True, UNSUPPORTED: False})) as judge:
        judge_rule(project, judge)
        trace_id, root_id, start = uuid.uuid4().hex, uuid.uuid4().hex, time.time() - 5
        body = {
            "spans": [
                {"name": "answer", "trace_id": trace_id, "span_id": root_id, "parent_id": None, "start_time": start,
                 "end_time": start + 2, "attributes": {}, "status": "ok"},
                {"name": "retrieve", "trace_id": trace_id, "span_id": uuid.uuid4().hex, "parent_id": root_id,
                 "start_time": start + 0.1, "end_time": start + 0.2, "status": "ok",
                 "attributes": {"rag.retrieved_docs": ["Paris is the capital of France."]}},
                {"name": "openai.chat.completions.create", "trace_id": trace_id, "span_id": uuid.uuid4().hex,
                 "parent_id": root_id, "start_time": start + 0.3, "end_time": start + 1.5, "status": "ok",
                 "attributes": {"model": "gpt-4o-mini", "input": "Tell me about Paris.",
                                "output": f"{SUPPORTED} {UNSUPPORTED}", "tokens_input": 20, "tokens_output": 12}},
            ]
        }  # fmt: skip
        resp = client.post(
            "/v1/spans?evaluate=sync",
            data=json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {api_key}",
        )

    assert resp.status_code == 200
    scores = {s["evaluator"]: s for s in resp.json()["scores"]}
    assert scores["faithfulness"]["status"] == "done"
    assert scores["faithfulness"]["value"] == pytest.approx(0.5)
    assert "non_empty" in scores
