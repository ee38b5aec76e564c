"""evals.cost: a judge rule's projected monthly cost, as plain arithmetic (no database)."""

import pytest

from evals.cost import (
    OUTPUT_TOKENS_PER_CALL,
    PROMPT_OVERHEAD_TOKENS,
    PastJudgements,
    SampledTrace,
    TargetSize,
    Traffic,
    arithmetic,
    judgement_tokens,
    project_cost,
    usd,
)


def traffic(n_traces: int, sample: list[SampledTrace], days: float = 7) -> Traffic:
    return Traffic(days=days, traces=n_traces, sample=tuple(sample))


def one_target(chars: int = 4000, evaluator: str = "rubric") -> SampledTrace:
    return SampledTrace(triggered=False, targets=(TargetSize(evaluator, chars),))


def test_the_articles_example_comes_out_as_30000_a_month():
    # 100,000 requests a day, one judged span each, every one sampled; a judgement priced at exactly $0.01.
    p = project_cost(
        traffic=traffic(700_000, [one_target(chars=0)] * 10),
        judges=["rubric"],
        sample_rate=1.0,
        price=(
            10_000 / (PROMPT_OVERHEAD_TOKENS + OUTPUT_TOKENS_PER_CALL),
            10_000 / (PROMPT_OVERHEAD_TOKENS + OUTPUT_TOKENS_PER_CALL),
        ),
    )
    assert p.judgements_per_day == pytest.approx(100_000)
    assert p.cost_per_judgement == pytest.approx(0.01)
    assert p.monthly == pytest.approx(30_000)
    assert arithmetic(p) == "$0.01 per judgement × 100,000 judgements a day = $30,000 a month"


def test_the_sample_rate_scales_the_judgements_but_triggered_traces_always_count():
    sample = [one_target()] * 8 + [SampledTrace(triggered=True, targets=(TargetSize("rubric", 4000),))] * 2
    full = project_cost(traffic=traffic(70, sample), judges=["rubric"], sample_rate=1.0, price=(1.0, 2.0))
    tenth = project_cost(traffic=traffic(70, sample), judges=["rubric"], sample_rate=0.1, price=(1.0, 2.0))
    assert full.judgements_per_day == pytest.approx(10)
    # 8 traces at 10% + 2 triggered at 100%, per 10 sampled traces, x 10 traces a day
    assert tenth.judgements_per_day == pytest.approx(8 * 0.1 + 2)
    assert tenth.selected_share == pytest.approx((8 * 0.1 + 2) / 10)
    assert tenth.monthly < full.monthly


def test_tokens_are_estimated_from_the_inputs_and_the_rules_own_prompt():
    p = project_cost(
        traffic=traffic(7, [one_target(chars=8000)]),
        judges=["rubric"],
        sample_rate=1.0,
        price=(1_000_000, 0),
        prompt_tokens={"rubric": 150},
    )
    assert p.tokens_from == "estimate"
    assert p.input_tokens == 8000 / 4 + 150
    assert p.cost_per_judgement == pytest.approx(2150)


def test_past_judgements_replace_the_estimate_when_there_are_some():
    past = PastJudgements(judgements=4, input_tokens=4000, output_tokens=400, cost=0.5)
    p = project_cost(
        traffic=traffic(7, [one_target(chars=80_000)]), judges=["rubric"], sample_rate=1.0, price=(1.0, 1.0), past=past
    )
    assert p.tokens_from == "past judgements"
    assert (p.input_tokens, p.output_tokens) == (1000, 100)
    assert p.cost_per_judgement == pytest.approx(1100 / 1_000_000)


def test_an_unknown_price_gives_no_figure_but_says_why():
    p = project_cost(traffic=traffic(7, [one_target()]), judges=["rubric"], sample_rate=1.0, price=None)
    assert p.monthly is None and arithmetic(p) == ""
    assert any("price" in n for n in p.notes)


def test_targets_of_judges_the_rule_does_not_run_cost_nothing():
    sample = [SampledTrace(False, (TargetSize("faithfulness", 100), TargetSize("rubric", 100)))]
    p = project_cost(traffic=traffic(7, sample), judges=["rubric"], sample_rate=1.0, price=(1.0, 1.0))
    assert p.judgements_per_day == 1


def test_context_precision_makes_one_call_per_document():
    assert judgement_tokens("context_precision", 400, documents=3) == (100 + 3 * PROMPT_OVERHEAD_TOKENS, 1200)
    assert judgement_tokens("faithfulness", 400) == (100 + 2 * PROMPT_OVERHEAD_TOKENS, 800)


def test_no_traffic_or_no_judge_says_so():
    assert project_cost(traffic=traffic(0, []), judges=["rubric"], sample_rate=1, price=(1, 1)).monthly == 0
    assert project_cost(traffic=traffic(0, []), judges=["rubric"], sample_rate=1, price=(1, 1)).notes
    assert "no LLM judge" in project_cost(traffic=traffic(7, []), judges=[], sample_rate=1, price=(1, 1)).notes[0]


@pytest.mark.parametrize(
    ("amount", "text"), [(0.01, "$0.01"), (0.00421, "$0.0042"), (12.3, "$12"), (3012.4, "$3,000"), (None, "?")]
)
def test_dollars_are_shown_to_two_significant_digits(amount, text):
    assert usd(amount) == text
